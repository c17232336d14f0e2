"""Would a second thread (or process) for each output's decode speed up ``add``?

A re-capture batch spends about 0.7 ms of CPU an image in ``looks_of`` (one
decode of the output: pixel hash, fingerprint, WebP thumbnail) and about as
much in the rest of its capture (parsing, models, index, record), all in one
Python thread (docs/benchmarks.md, "Where the time of a batch goes"). This
times ``perceptual.looks_of`` over ``--images`` ComfyUI PNGs as
``bench_recapture.py`` makes them (``--size`` pixels a side), in rounds that
run every row in turn:

- one thread; two threads (``ThreadPoolExecutor(2).map``): whether Pillow's
  and BLAKE3's released GIL lets two decodes overlap at all;
- "+ rest": the same, with the main thread busy ``--rest-ms`` an image in
  Python (a spin that holds the GIL, standing in for the rest of capture)
  while a pool decodes two images ahead: one thread in turn; a pool of two
  threads; one worker process fed chunks of ``--chunk`` images.

Every row's results are checked equal to the first's. Prints the median wall
time of each row, its ratio to the row it would replace, and the main
process's CPU (a worker process's is not in it).

``--before SRC`` (another checkout's ``src``) also times the one-thread row of
that code and of this checkout, each in a process of its own, in turn in the
same rounds, over the same files, and prints their CPU an image, the ratio, and
the mean thumbnail size; their pixel hashes and fingerprints must be equal.

Usage: python bench/bench_decode_parallel.py [--images 1000] [--size 32]
       [--rest-ms 0.75] [--chunk 16] [--rounds 3] [--dir /tmp] [--before SRC]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

# ``--one-thread-of SRC DIR``: this script as the child that times SRC's code.
sys.path.insert(0, sys.argv[2] if sys.argv[1:2] == ["--one-thread-of"]
                else str(Path(__file__).resolve().parent.parent / "src"))

from repro.demo import comfy_graph, write_comfy_png
from repro.lineage.perceptual import Looks, looks_of

HERE = Path(__file__).resolve().parent.parent / "src"
CHILD = "--one-thread-of"
#: Images a pool works on ahead of the main thread (memory stays bounded).
AHEAD = 2


def looks_of_each(datas: Sequence[bytes]) -> list[Looks | None]:
    """One task for a worker process: a chunk's looks (fewer, larger messages)."""
    return [looks_of(d) for d in datas]


def rest_of_capture(seconds: float) -> None:
    """The main thread's other work for an image: Python that holds the GIL."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def in_turn(datas: list[bytes], rest: float) -> list[Looks | None]:
    out = []
    for data in datas:
        out.append(looks_of(data))
        rest_of_capture(rest)
    return out


def ahead(pool: Executor, datas: list[bytes], rest: float, chunk: int) -> list[Looks | None]:
    """Decodes run ``AHEAD`` chunks ahead of the main thread, which takes their
    results in order and does the rest of each image's capture."""
    chunks = [datas[i:i + chunk] for i in range(0, len(datas), chunk)]
    futures: list[Future[list[Looks | None]]] = [
        pool.submit(looks_of_each, c) for c in chunks[:AHEAD]]
    out: list[Looks | None] = []
    for k in range(len(chunks)):
        if k + AHEAD < len(chunks):
            futures.append(pool.submit(looks_of_each, chunks[k + AHEAD]))
        for looks in futures[k].result():
            rest_of_capture(rest)
            out.append(looks)
    return out


def make_images(folder: Path, count: int, side: int) -> list[bytes]:
    datas = []
    for n in range(count):
        graph = comfy_graph(ckpt="base.safetensors", lora="style.safetensors",
                            lora_strength=0.8, seed=n, prompt=f"image {n}")
        path = write_comfy_png(folder / f"img{n:05}.png", graph, pixel_seed=n, size=(side, side))
        datas.append(path.read_bytes())
    return datas


def one_thread_child(folder: Path) -> None:
    """Time ``looks_of`` over the PNGs in ``folder`` in this process; print JSON."""
    datas = [p.read_bytes() for p in sorted(folder.glob("*.png"))]
    looks_of(datas[0])  # imports done
    cpu = time.process_time()
    got = [looks_of(d) for d in datas]
    cpu = time.process_time() - cpu
    prints = [(g.pixel_hash, g.fingerprint) if g else None for g in got]
    thumbs = sum(len(g.thumbnail) for g in got if g)
    print(json.dumps({"cpu": cpu, "prints": prints, "thumbnail_bytes": thumbs / len(datas)}))


def compare_with(before: str, folder: Path, rounds: int) -> None:
    """The one-thread row of ``before``'s code and of this checkout's, in turn."""
    trees = {"before": before, "after": str(HERE)}
    runs: dict[str, list[dict[str, object]]] = {name: [] for name in trees}
    for _ in range(rounds):
        for name, src in trees.items():
            out = subprocess.run([sys.executable, __file__, CHILD, src, str(folder)],
                                 capture_output=True, text=True, check=True).stdout
            runs[name].append(json.loads(out))
    if runs["before"][0]["prints"] != runs["after"][0]["prints"]:
        raise SystemExit("pixel hashes or fingerprints differ between before and after")
    count = len(list(folder.glob("*.png")))
    cpu = {name: statistics.median(float(str(r["cpu"])) for r in rs) / count * 1000
           for name, rs in runs.items()}
    print(f"one thread, a process each, median of {rounds} in turn, "
          f"load average {os.getloadavg()[0]:.1f}: CPU ms an image before {cpu['before']:.3f}, "
          f"after {cpu['after']:.3f} ({cpu['after'] / cpu['before']:.2f}x); thumbnail bytes "
          f"before {runs['before'][0]['thumbnail_bytes']:.0f}, "
          f"after {runs['after'][0]['thumbnail_bytes']:.0f}")


def main() -> None:
    if sys.argv[1:2] == [CHILD]:
        one_thread_child(Path(sys.argv[3]))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--rest-ms", type=float, default=0.75)
    ap.add_argument("--chunk", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", default=tempfile.gettempdir())
    ap.add_argument("--before", help="another checkout's src folder to time as well")
    args = ap.parse_args()
    rest = args.rest_ms / 1000
    with tempfile.TemporaryDirectory(prefix="repro-decode-", dir=args.dir) as tmp:
        datas = make_images(Path(tmp), args.images, args.size)
        if args.before:
            compare_with(args.before, Path(tmp), args.rounds)
    expected = [looks_of(d) for d in datas]
    with ThreadPoolExecutor(2) as threads, ProcessPoolExecutor(1) as process:
        process.submit(looks_of_each, datas[:1]).result()  # started and imported
        rows: dict[str, tuple[str | None, Callable[[], list[Looks | None]]]] = {
            "one thread": (None, lambda: [looks_of(d) for d in datas]),
            "two threads": ("one thread", lambda: list(threads.map(looks_of, datas))),
            "one thread + rest, in turn": (None, lambda: in_turn(datas, rest)),
            "two threads ahead + rest": ("one thread + rest, in turn",
                                         lambda: ahead(threads, datas, rest, 1)),
            f"one process, chunks of {args.chunk}, + rest": (
                "one thread + rest, in turn",
                lambda: ahead(process, datas, rest, args.chunk)),
        }
        walls: dict[str, list[float]] = {name: [] for name in rows}
        cpus: dict[str, list[float]] = {name: [] for name in rows}
        for _ in range(args.rounds):
            for name, (_, run) in rows.items():
                cpu, wall = time.process_time(), time.perf_counter()
                got = run()
                walls[name].append(time.perf_counter() - wall)
                cpus[name].append(time.process_time() - cpu)
                if got != expected:
                    raise SystemExit(f"{name}: results differ from one thread's")
    print(f"{args.images} images of {args.size}x{args.size}, rest {args.rest_ms} ms an image, "
          f"median of {args.rounds}, load average {os.getloadavg()[0]:.1f}")
    print(f"{'':40} {'wall s':>7} {'ratio':>6} {'main CPU s':>10}")
    for name, (baseline, _) in rows.items():
        wall = statistics.median(walls[name])
        ratio = f"{wall / statistics.median(walls[baseline]):.2f}x" if baseline else ""
        print(f"{name:40} {wall:7.3f} {ratio:>6} {statistics.median(cpus[name]):10.3f}")


if __name__ == "__main__":
    main()
