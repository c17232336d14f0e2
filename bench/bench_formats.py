"""Throughput of ``repro inspect --json`` on a mixed set of formats vs a bare Pillow loop.

Builds a JPEG- and WebP-heavy mix with big ComfyUI graphs and some PNGs
(tests/capture/formats.py: A1111 JPEG, Civitai and saver-node ComfyUI JPEG
and WebP, NovelAI WebP, ComfyUI and SwarmUI PNG, RuinedFooocus), then, in the
same run and on the same files (page cache warm):

- ``repro inspect --json FILES...`` as one process (start-up included);
- a fresh Python process that opens each file with Pillow and reads ``.info``
  (start-up included), which is what a bare metadata dump costs (issue 15's
  yardstick: it parses no EXIF and no JSON);
- the same Pillow loop that also reads the EXIF and parses every JSON text it
  finds (``json.loads``), the least a reader of these formats must do;
- the floor of any reader that parses the JSON: a fresh process that only runs
  ``orjson.loads`` over the JSON texts these files carry (taken out beforehand by
  repro's container walk, written to one file the process reads), no Pillow, no
  graph walk: what is left when reading costs nothing;
- with ``--compare-src DIR``, ``repro inspect --json`` run from another source
  tree (e.g. ``/work/main/src``), as a before/after in the same run.

Also times start-up alone: ``repro inspect --json`` of one small file, ``repro
--help`` and ``import PIL.Image``.

Prints files/s of each and their ratio, by wall-clock time and by CPU time
(user + system of the child process, which other load on a shared machine
disturbs much less); each figure is the best of ``--repeat`` runs. Goal
(issue 15 item 10): at least 1,000 files/s, and faster than the Pillow loop.
``--files 203`` is the issue's own framing (a whole run over ~200 files, both
as fresh processes, start-up included).

Usage: python bench/bench_formats.py [--files 1000] [--repeat 3] [--profile]
                                     [--compare-src DIR]
"""

from __future__ import annotations

import argparse
import marshal
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import clean_env, repro_exe

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.capture.formats import mixed_set  # the repository root is on the path now

_PILLOW_LOOP = """
import sys
from PIL import Image
for name in sys.argv[1:]:
    with Image.open(name) as image:
        image.info
"""


_PILLOW_JSON_LOOP = """
import json, sys
from PIL import Image
for name in sys.argv[1:]:
    with Image.open(name) as image:
        texts = [v for v in image.info.values() if isinstance(v, str)]
        exif = image.getexif()
        values = [*exif.values(), *exif.get_ifd(0x8769).values()]
        for v in values:
            if isinstance(v, bytes):
                v = (v[8:].decode("utf-16-be", "replace") if v.startswith(b"UNICODE\\0")
                     else v.decode("utf-8", "replace"))
            if isinstance(v, str):
                texts.append(v.partition(":")[2] if v.startswith(("prompt:", "workflow:")) else v)
        for text in texts:
            if text.lstrip().startswith("{"):
                try:
                    json.loads(text)
                except ValueError:
                    pass
"""


_JSON_FLOOR_LOOP = """
import marshal, sys
import orjson
with open(sys.argv[1], "rb") as f:
    texts = marshal.load(f)
for text in texts:
    orjson.loads(text)
"""

#: Prefixes savers put before the JSON in an EXIF tag (ComfyUI WebP, save-image-extended).
_PREFIXES = ("prompt:", "workflow:", "Prompt: ", "Workflow: ")


def _json_texts(files: list[str]) -> list[str]:
    """Every JSON text repro parses in these files (PNG text chunks, EXIF tags and
    UserComment), as repro's container walk decodes them."""
    from repro.capture.containers import extract
    from repro.capture.exif import IMAGE_DESCRIPTION, MAKE, MODEL

    texts: list[str] = []
    for name in files:
        with open(name, "rb") as stream:
            ex = extract(stream, Path(name).stat().st_size)
        found = list(ex.texts.values())
        if ex.exif is not None:
            found += [ex.exif.text(tag) or "" for tag in (MODEL, MAKE, IMAGE_DESCRIPTION)]
            comment = ex.exif.user_comment()
            found += [comment[0]] if comment else []
        for text in found:
            text = next((text[len(p):] for p in _PREFIXES if text.startswith(p)), text)
            if text.lstrip().startswith("{"):
                texts.append(text)
    return texts


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _env(cache: str) -> dict[str, str]:
    """The child's environment: bytecode cached (in ``cache``) as for an installed
    package, even where PYTHONDONTWRITEBYTECODE is set (Pillow's is precompiled)."""
    env = clean_env()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = cache
    return env


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of ``command``."""
    start, cpu = time.perf_counter(), _cpu()
    proc = subprocess.run(command, capture_output=True, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(proc.stderr.decode()[-2000:])
    return elapsed, _cpu() - cpu


def _best(runs: dict[str, tuple[list[str], dict[str, str]]],
          repeat: int) -> dict[str, tuple[float, float]]:
    """The best wall and CPU time of each command over ``repeat`` rounds; each round
    runs every command once, so a change of load reaches all of them alike."""
    best = {label: (float("inf"), float("inf")) for label in runs}
    for _ in range(repeat):
        for label, (command, env) in runs.items():
            wall, cpu = _timed(command, env)
            best[label] = (min(best[label][0], wall), min(best[label][1], cpu))
    return best


def _write(folder: Path, count: int) -> list[str]:
    names = []
    for name, data in mixed_set(count):
        path = folder / name
        path.write_bytes(data)
        names.append(str(path))
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true",
                        help="also print a cProfile of read_file over the set")
    parser.add_argument("--compare-src", metavar="DIR",
                        help="also time repro inspect run from this source tree")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "files").mkdir()
        files = _write(Path(tmp) / "files", args.files)
        size = sum(Path(f).stat().st_size for f in files)
        kinds = {ext: sum(f.endswith(ext) for f in files) for ext in (".jpg", ".webp", ".png")}
        ours = [repro_exe(), "inspect", "--json", *files]
        env = _env(str(Path(tmp) / "pycache"))
        runs = {"repro inspect --json (one process)": (ours, env),
                "Pillow .info loop (fresh process)": (
                    [sys.executable, "-c", _PILLOW_LOOP, *files], env),
                "Pillow + EXIF + json.loads (fresh)": (
                    [sys.executable, "-c", _PILLOW_JSON_LOOP, *files], env)}
        floor_file = Path(tmp) / "texts.marshal"
        texts = _json_texts(files)
        floor_file.write_bytes(marshal.dumps(texts))
        runs["floor: orjson.loads of the JSON texts"] = (
            [sys.executable, "-c", _JSON_FLOOR_LOOP, str(floor_file)], env)
        if args.compare_src:
            runs[f"repro from {args.compare_src}"] = (
                ours, {**env, "PYTHONPATH": args.compare_src,
                       "PYTHONPYCACHEPREFIX": str(Path(tmp) / "pycache-compare")})
        for command, run_env in runs.values():  # warm the page and bytecode caches
            _timed(command, run_env)
        best = _best(runs, args.repeat)
        startup = _best({"repro inspect --json of one NovelAI file": (
                             [repro_exe(), "inspect", "--json",
                              next(f for f in files if f.endswith("novelai.webp"))], env),
                         "repro --help": ([repro_exe(), "--help"], env),
                         "python -c 'import PIL.Image'": (
                             [sys.executable, "-c", "import PIL.Image"], env)},
                        max(args.repeat, 10))
        if args.profile:
            _profile(files)
    n = len(files)
    print(f"files: {n} ({kinds}), {size / 1e6:.1f} MB; {len(texts)} JSON texts, "
          f"{sum(map(len, texts)) / 1e6:.1f} MB; load average {os.getloadavg()[0]:.1f}")
    print(f"{'':36s} wall files/s   CPU files/s   repro vs this, >1x: repro faster")
    repro_wall, repro_cpu = best["repro inspect --json (one process)"]
    for label, (wall, cpu) in best.items():
        print(f"{label:36s} {n / wall:12.0f}  {n / cpu:12.0f}   "
              f"{wall / repro_wall:8.2f}x {cpu / repro_cpu:8.2f}x")
    print("goal: >= 1,000 files/s (wall) and faster than the Pillow .info loop (> 1x)")
    for label, (wall, cpu) in startup.items():
        print(f"start-up: {label:42s} {wall * 1e3:6.1f} ms wall {cpu * 1e3:6.1f} ms CPU")


def _profile(files: list[str]) -> None:
    import cProfile
    import pstats

    from repro.capture import read_file

    profiler = cProfile.Profile()
    profiler.enable()
    for name in files:
        read_file(name).to_dict()
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
