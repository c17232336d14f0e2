"""``repro identify``: recall on a store's own outputs after JPEG quality 70,
halving and a 5% crop; false matches against unrelated images; the capture cost
of the fingerprint and thumbnail (one decode); lookup time at 100,000 records.

The store's outputs and the unrelated images are ``repro.demo.scene`` pictures
(gradients, shapes, text, blur, grain; disjoint seeds), 512x512 PNGs with
ComfyUI metadata; the corpus images (tests/fixtures/corpus) are unrelated too.
The lookup store comes from ``bench/make_store.py`` with a random fingerprint
filled in for each of its outputs (they are stand-ins, not images).

Usage: python bench/bench_identify.py [--outputs 200] [--unrelated 500]
       [--records 100000] [--store DIR]   (an existing make_store.py store)
       [--only recall|lookup|pairs|cost]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from _common import clean_env, repro_exe

from repro.api import identify as api_identify
from repro.api.add import verb
from repro.api.repository import Repository
from repro.demo import comfy_graph, scene, write_comfy_png
from repro.errors import NotFound
from repro.lineage.perceptual import prints_of, to_signed

CORPUS = Path(__file__).resolve().parent.parent / "tests/fixtures/corpus"


def encode(im: Any, fmt: str, **kw: Any) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def crop(im: Any, where: str) -> Any:
    w, h = im.size
    dw, dh = round(w * 0.05), round(h * 0.05)
    if where == "corner":  # 5% off the left and 5% off the top
        return im.crop((dw, dh, w, h))
    if where == "side":  # 5% off the left only
        return im.crop((dw, 0, w, h))
    return im.crop((dw // 2, dh // 2, w - (dw - dw // 2), h - (dh - dh // 2)))


EDITS = {
    "JPEG q70": lambda im: encode(im, "JPEG", quality=70),
    "half size (PNG)": lambda im: encode(im.resize((im.width // 2, im.height // 2)), "PNG"),
    "5% crop, left (PNG)": lambda im: encode(crop(im, "side"), "PNG"),
    "5% crop, left and top (PNG)": lambda im: encode(crop(im, "corner"), "PNG"),
    "5% crop, centred (PNG)": lambda im: encode(crop(im, "centre"), "PNG"),
    "all three: crop left+top, half, q70": lambda im: encode(
        crop(im, "corner").resize((im.width // 2, im.height // 2)), "JPEG", quality=70),
}


def make_outputs(root: Path, n: int) -> list[Path]:
    paths = []
    for seed in range(n):
        graph = comfy_graph(ckpt="base.safetensors", lora=None, lora_strength=0.0, seed=seed,
                            prompt="a lighthouse")
        paths.append(write_comfy_png(root / "outputs" / f"s{seed:05d}.png", graph,
                                     pixel_seed=seed, image=scene(seed)))
    return paths


def capture_cost(work: Path, paths: list[Path]) -> dict[str, tuple[float, float]]:
    """ms per image of ``add`` (wall, and CPU of this process: on a loaded machine
    the wall time is mostly waiting for a core or a sync), same files, variants in
    turn: with nothing decoded, with the pixel hash and fingerprint alone (as
    capture did before thumbnails), and with both and the thumbnail from one decode
    (``add`` today)."""
    def prints_only(_repo: Repository, blake3: str, data: bytes) -> tuple[Any, ...]:
        found = prints_of(data)
        return (blake3, None, None) if found is None else (blake3, found[0],
                                                           to_signed(found[1]))

    variants = {"nothing decoded": lambda _r, b, _d: (b, None, None),
                "pixel hash + fingerprint": prints_only,
                "pixel hash + fingerprint + thumbnail": verb.look_at_output}
    real = verb.look_at_output
    best: dict[str, list[tuple[float, float]]] = {label: [] for label in variants}
    for attempt in range(3):
        for n, (label, row) in enumerate(variants.items()):
            repo = Repository.init(work / f"cost-{n}-{attempt}")
            verb.look_at_output = row  # type: ignore[assignment]
            started, cpu = time.perf_counter(), time.process_time()
            verb.add(repo, paths, allow_empty=True)
            best[label].append(((time.perf_counter() - started) / len(paths) * 1000,
                                (time.process_time() - cpu) / len(paths) * 1000))
            repo.close()
    verb.look_at_output = real  # type: ignore[assignment]
    return {label: (min(w for w, _ in times), min(c for _, c in times))
            for label, times in best.items()}


def query(repo: Repository, path: Path) -> list[api_identify.Candidate]:
    try:
        return api_identify.identify(repo, path)
    except NotFound:
        return []


def recall(repo: Repository, work: Path, paths: list[Path], ids: dict[str, str]) -> None:
    from PIL import Image

    print("| edit | found first | found among candidates | distance median / max "
          f"| found at {api_identify.WEAK_DISTANCE}+ bits (weak) |")
    print("|---|---|---|---|---|")
    for name, edit in EDITS.items():
        first = among = 0
        distances = []
        for path in paths:
            with Image.open(path) as im:
                copy = work / ("copy.jpg" if "q70" in name else "copy.png")
                copy.write_bytes(edit(im.convert("RGB")))
            found = query(repo, copy)
            want = ids[path.name]
            first += bool(found) and found[0].id == want
            hit = [c for c in found if c.id == want]
            among += bool(hit)
            if hit:
                distances.append(hit[0].distance)
        weak = sum(d >= api_identify.WEAK_DISTANCE for d in distances)
        print(f"| {name} | {first}/{len(paths)} | {among}/{len(paths)} | "
              f"{statistics.median(distances) if distances else '-'} / "
              f"{max(distances) if distances else '-'} | {weak}/{len(paths)} |")


def unrelated_scenes(n: int) -> list[bytes]:
    """Scenes of seeds no output has, as JPEG q85: copies of nothing in the store."""
    return [encode(scene(seed), "JPEG", quality=85) for seed in range(100_000, 100_000 + n)]


def false_matches(repo: Repository, work: Path, unrelated: list[bytes]) -> None:
    matched = 0
    for data in unrelated:
        copy = work / "other.jpg"
        copy.write_bytes(data)
        matched += bool(query(repo, copy))
    corpus = [p for p in sorted(CORPUS.rglob("*")) if p.suffix in (".png", ".jpg", ".webp")
              and p.stat().st_size > 10_000]
    corpus_matched = sum(bool(query(repo, p)) for p in corpus)
    print(f"\nunrelated scenes with any candidate: {matched}/{len(unrelated)}; "
          f"corpus images: {corpus_matched}/{len(corpus)}")
    pair_distances(repo, unrelated)


def pair_distances(repo: Repository, unrelated: list[bytes]) -> None:
    """How close an unrelated image comes to one output (the nearest of its 9
    guesses), over every (unrelated image, output) pair."""
    from repro.lineage.perceptual import query_prints

    _, stored = repo.index.prints()
    guesses = [found[1] for data in unrelated if (found := query_prints(data))]
    print_pairs(stored, guesses)


def scene_pairs(n: int) -> None:
    """``pair_distances`` over more pairs than a store of captured outputs gives
    cheaply: n scenes, each as an output (its fingerprint as captured) and as an
    unrelated JPEG q85 copy looked up against the n - 1 others."""
    from repro.lineage.perceptual import prints_of, query_prints

    stored, guesses = [], []
    for seed in range(200_000, 200_000 + n):
        im = scene(seed)
        found = prints_of(encode(im, "PNG", compress_level=1))
        query = query_prints(encode(im, "JPEG", quality=85))
        assert found is not None and query is not None
        stored.append(found[1])
        guesses.append(query[1])
    print(f"\n{n} scenes, each looked up against the others:")
    print_pairs(stored, guesses, skip_same=True)


def print_pairs(stored: list[int], guesses: list[list[int]], skip_same: bool = False) -> None:
    """The share of (unrelated copy, output) pairs within k bits, and what that makes
    of a store of 100,000 outputs: an unrelated copy gets a candidate within k bits
    with the chance 1-(1-p)^100000 (if pairs were independent)."""
    counts = [0] * 65
    for i, qs in enumerate(guesses):
        for j, p in enumerate(stored):
            if not (skip_same and i == j):
                counts[min((p ^ q).bit_count() for q in qs)] += 1
    pairs = sum(counts)
    print(f"{pairs:,} (unrelated copy, output) pairs")
    print("| k bits | pairs within k (p) | an unrelated copy with a candidate, 100,000 outputs |")
    print("|---|---|---|")
    within = 0
    for k in range(11):
        within += counts[k]
        share = within / pairs
        print(f"| {k} | {within} ({share:.1e}) | {1 - (1 - share) ** 100_000:.0%} |")


def lookup(store: Path, work: Path, unrelated: list[bytes]) -> None:
    repo = Repository.discover(store)
    rng = random.Random(7)
    missing = repo.index.outputs_without_prints()
    repo.index.add_prints((o, None, to_signed(rng.getrandbits(64))) for o in missing)
    outputs, _ = repo.index.prints()
    copy = work / "lookup.jpg"
    copy.write_bytes(encode(scene(424_242), "JPEG", quality=70))
    query(repo, copy)  # the first call also looks for missing fingerprints
    inproc = []
    for _ in range(5):
        started = time.perf_counter()
        query(repo, copy)
        inproc.append(time.perf_counter() - started)
    lookup_parts(repo, copy)
    # Bytecode cached, as for an installed package, even where PYTHONDONTWRITEBYTECODE
    # is set (without it every run compiles repro's modules again).
    env = {k: v for k, v in clean_env().items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    runs = {"identify": ["-C", str(store), "identify", str(copy), "--json"],
            "version": ["--version"]}
    times: dict[str, list[float]] = {"identify": [], "version": []}
    for attempt in range(12):  # interleaved: the load of this shared machine changes by the second
        for key, args in runs.items():
            started = time.perf_counter()
            subprocess.run([repro_exe(), *args], env=env, capture_output=True, check=False)
            if attempt >= 2:  # the first runs fill the bytecode cache
                times[key].append(time.perf_counter() - started)
    ident, version = times["identify"], times["version"]
    print(f"\nlookup in {len(outputs):,} fingerprints (an unrelated JPEG: nothing found): "
          f"in-process median {statistics.median(inproc) * 1000:.0f} ms; "
          f"`repro identify` process wall time median {statistics.median(ident):.3f} s "
          f"(min {min(ident):.3f}); `repro --version` median "
          f"{statistics.median(version):.3f} s (min {min(version):.3f}); ratio of medians "
          f"{statistics.median(ident) / statistics.median(version):.1f}")
    random_false_matches(repo, work, unrelated, len(outputs))


def lookup_parts(repo: Repository, copy: Path) -> None:
    """Where an in-process lookup's time goes: the copy's 9 fingerprints, the index
    probes (how many values, how many rows), the distances."""
    from repro.lineage.perceptual import near_parts, query_prints

    def median_ms(work: Any) -> float:
        times = []
        for _ in range(7):
            started = time.perf_counter()
            work()
            times.append(time.perf_counter() - started)
        return statistics.median(times) * 1000

    def open_index() -> None:
        opened = Repository.discover(repo.root)
        opened.index.count()
        opened.close()

    found = query_prints(copy.read_bytes())
    assert found is not None
    guesses = found[1]
    values = sum(len(set().union(*(near_parts(q, 2)[part] for q in guesses)))
                 for part in range(4))
    distance = api_identify.MAX_DISTANCE
    rows = list(api_identify._probe(repo.index, guesses, distance))
    print(f"in-process parts (medians of 7): opening the store and its index "
          f"{median_ms(open_index):.1f} ms; the copy's 9 fingerprints "
          f"{median_ms(lambda: query_prints(copy.read_bytes())):.1f} ms; the probes "
          f"({values:,} values, {len(rows):,} rows within {distance} bits) "
          f"{median_ms(lambda: list(api_identify._probe(repo.index, guesses, distance))):.1f}"
          " ms; "
          f"the distances {median_ms(lambda: api_identify._near(repo.index, guesses, 10)):.1f}"
          " ms with the probes")


def random_false_matches(repo: Repository, work: Path, unrelated: list[bytes],
                         size: int) -> None:
    """Unrelated scenes looked up among random fingerprints: the floor of the false
    match rate at this size (real fingerprints are not uniform: ``pair_distances``)."""
    found: list[int] = []
    for data in unrelated:
        copy = work / "other.jpg"
        copy.write_bytes(data)
        hits = query(repo, copy)
        if hits:
            found.append(hits[0].distance)
    print(f"unrelated scenes with a candidate among {size:,} random fingerprints: "
          f"{len(found)}/{len(unrelated)}, at {sorted(found)} bits")


def measure_recall(work: Path, args: argparse.Namespace) -> None:
    paths = make_outputs(work, args.outputs)
    cost = capture_cost(work, paths[:100])
    wall0, cpu0 = cost["nothing decoded"]
    print("capture, ms per 512x512 PNG (best of 3, 100 images, variants in turn; "
          f"load average {os.getloadavg()[0]:.1f}):")
    for label, (wall, cpu) in cost.items():
        print(f"  {label}: wall {wall:.1f} ({wall / wall0:.2f}x, +{wall - wall0:.1f}), "
              f"CPU {cpu:.1f} ({cpu / cpu0:.2f}x, +{cpu - cpu0:.1f})")
    print()
    if args.only == "cost":
        return
    repo = Repository.init(work / "store")
    result = verb.add(repo, paths, allow_empty=True)
    ids = {Path(c.path).name: c.id for c in result.records}
    recall(repo, work, paths, ids)
    false_matches(repo, work, unrelated_scenes(args.unrelated))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--outputs", type=int, default=200)
    ap.add_argument("--unrelated", type=int, default=500)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--store", type=Path, help="an existing bench/make_store.py store")
    ap.add_argument("--only", choices=("recall", "lookup", "pairs", "cost"),
                    help="run one part (cost: the capture cost alone)")
    ap.add_argument("--pairs", type=int, default=1000,
                    help="scenes for --only pairs (each against the others)")
    args = ap.parse_args()
    if args.only == "pairs":
        scene_pairs(args.pairs)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.only != "lookup":
            measure_recall(work, args)
        if args.only not in ("recall", "cost"):
            store = args.store
            if store is None:
                store = work / "big"
                subprocess.run([sys.executable, str(Path(__file__).parent / "make_store.py"),
                                str(store), str(args.records)], check=True, capture_output=True)
            lookup(store, work, unrelated_scenes(args.unrelated))


if __name__ == "__main__":
    main()
