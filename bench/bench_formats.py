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
- with ``--compare-src DIR``, ``repro inspect --json`` run from another source
  tree (e.g. ``/work/main/src``), as a before/after in the same run.

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


def _best(command: list[str], env: dict[str, str], repeat: int) -> tuple[float, float]:
    runs = [_timed(command, env) for _ in range(repeat)]
    return min(r[0] for r in runs), min(r[1] for r in runs)


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
        if args.compare_src:
            runs[f"repro from {args.compare_src}"] = (
                ours, {**env, "PYTHONPATH": args.compare_src,
                       "PYTHONPYCACHEPREFIX": str(Path(tmp) / "pycache-compare")})
        for command, run_env in runs.values():  # warm the page and bytecode caches
            _timed(command, run_env)
        best = {label: _best(command, run_env, args.repeat)
                for label, (command, run_env) in runs.items()}
        if args.profile:
            _profile(files)
    n = len(files)
    print(f"files: {n} ({kinds}), {size / 1e6:.1f} MB")
    print(f"{'':36s} wall files/s   CPU files/s   repro vs this, >1x: repro faster")
    repro_wall, repro_cpu = best["repro inspect --json (one process)"]
    for label, (wall, cpu) in best.items():
        print(f"{label:36s} {n / wall:12.0f}  {n / cpu:12.0f}   "
              f"{wall / repro_wall:8.2f}x {cpu / repro_cpu:8.2f}x")
    print("goal: >= 1,000 files/s (wall) and faster than the Pillow .info loop (> 1x)")


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
