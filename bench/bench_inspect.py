"""Throughput of ``repro inspect`` and ``repro.capture.read_file`` vs Pillow's
``Image.open(f).text``.

Copies the corpus PNGs to a temporary folder until there are 1,000 files,
reads them all with each, and prints files/s and the ratios. ``repro inspect
--json`` runs as a whole process over all the files (start-up included).
Usage: python bench/bench_inspect.py [CORPUS_DIR] [N_FILES]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from _common import repro_exe
from PIL import Image

from repro.capture import read_file

DEFAULT_CORPUS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "corpus"


def _replicate(corpus: Path, folder: Path, count: int) -> list[Path]:
    sources = sorted(p for p in corpus.rglob("*.png") if p.stat().st_size > 0)
    if not sources:
        raise SystemExit(f"no PNG files under {corpus}")
    files = []
    for i in range(count):
        source = sources[i % len(sources)]
        target = folder / f"{i:05d}_{source.name}"
        shutil.copyfile(source, target)
        files.append(target)
    return files


def _pillow(path: Path) -> None:
    with Image.open(path) as image:
        image.text  # noqa: B018 - the property reads every text chunk (and may decode)


def _rate(files: list[Path], read: object) -> float:
    assert callable(read)
    for path in files[:20]:  # warm the page cache and imports
        read(path)
    start = time.perf_counter()
    for path in files:
        read(path)
    return len(files) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS,
                        help="a folder of PNGs")
    parser.add_argument("count", nargs="?", type=int, default=1000, help="files to read")
    args = parser.parse_args()
    corpus, count = args.corpus, args.count
    with tempfile.TemporaryDirectory() as tmp:
        files = _replicate(corpus, Path(tmp), count)
        ours = _rate(files, read_file)
        pillow = _rate(files, _pillow)
        repro = repro_exe()
        start = time.perf_counter()
        proc = subprocess.run([repro, "inspect", "--json", *map(str, files)],
                              capture_output=True)
        command = len(files) / (time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(proc.stderr.decode())
    print(f"files: {len(files)}")
    print(f"repro inspect --json (process): {command:8.0f} files/s")
    print(f"repro read_file (in-process):   {ours:8.0f} files/s")
    print(f"Pillow Image.open.text:         {pillow:8.0f} files/s")
    print(f"ratio command/Pillow: {command / pillow:.1f}x, read_file/Pillow: {ours / pillow:.1f}x"
          "  (goal: >= 1,000 files/s and >= 5x)")


if __name__ == "__main__":
    main()
