"""Throughput of ``repro inspect --json`` on a mixed set of formats vs a bare Pillow loop.

Builds a JPEG- and WebP-heavy mix with big ComfyUI graphs and some PNGs
(tests/capture/formats.py: A1111 JPEG, Civitai and saver-node ComfyUI JPEG
and WebP, NovelAI WebP, ComfyUI and SwarmUI PNG, RuinedFooocus), then, in the
same run and on the same files (page cache warm):

- ``repro inspect --json FILES...`` as one process (start-up included);
- a fresh Python process that opens each file with Pillow and reads ``.info``
  (start-up included), which is what a bare metadata dump costs.

Prints files/s of each and their ratio, by wall-clock time and by CPU time
(user + system of the child process, which other load on a shared machine
disturbs much less); each figure is the best of ``--repeat`` runs. Goal
(issue 15 item 10): at least 1,000 files/s, and faster than the Pillow loop.

Usage: python bench/bench_formats.py [--files 1000] [--repeat 3] [--profile]
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "files").mkdir()
        files = _write(Path(tmp) / "files", args.files)
        size = sum(Path(f).stat().st_size for f in files)
        kinds = {ext: sum(f.endswith(ext) for f in files) for ext in (".jpg", ".webp", ".png")}
        ours = [repro_exe(), "inspect", "--json", *files]
        pillow = [sys.executable, "-c", _PILLOW_LOOP, *files]
        env = _env(str(Path(tmp) / "pycache"))
        _timed(pillow, env), _timed(ours, env)  # warm the page cache and the bytecode cache
        repro_wall, repro_cpu = _best(ours, env, args.repeat)
        pillow_wall, pillow_cpu = _best(pillow, env, args.repeat)
        if args.profile:
            _profile(files)
    n = len(files)
    print(f"files: {n} ({kinds}), {size / 1e6:.1f} MB")
    print("                                     wall files/s   CPU files/s")
    print(f"repro inspect --json (one process): {n / repro_wall:12.0f}  {n / repro_cpu:12.0f}")
    print(f"Pillow .info loop (fresh process):  {n / pillow_wall:12.0f}  {n / pillow_cpu:12.0f}")
    print(f"ratio repro/Pillow:                 {pillow_wall / repro_wall:11.2f}x "
          f"{pillow_cpu / repro_cpu:11.2f}x   (goal: >= 1,000 files/s and > 1x)")


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
