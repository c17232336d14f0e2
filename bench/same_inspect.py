"""Whether ``repro inspect --json`` prints the same bytes from two source trees.

A speed change to the readers must not change what they read. This runs
``repro inspect --json`` from this checkout and from ``--before DIR`` (e.g.
``/work/main/src`` before the change) over the formats mix of
tests/capture/formats.py (1,000 files and 203 files, as bench/bench_formats.py
builds them) and over every file of each ``--corpus`` folder, and compares the
outputs byte for byte (exit status too). Prints one line per set; exits 1 at
the first difference, naming the first file whose entry differs.

Usage: python bench/same_inspect.py --before DIR [--corpus DIR ...] [--files 1000 203]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import HERE_SRC, clean_env, precompile, repro_exe

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.capture.formats import mixed_set  # the repository root is on the path now


def _run(src: str, files: list[str]) -> tuple[int, bytes]:
    env = {**clean_env(), "PYTHONPATH": src}
    proc = subprocess.run([repro_exe(), "inspect", "--json", *files], capture_output=True,
                          env=env)
    return proc.returncode, proc.stdout


def _first_difference(ours: bytes, theirs: bytes) -> str:
    try:
        a, b = json.loads(ours), json.loads(theirs)
    except ValueError:
        return "the output is not JSON"
    if len(a) != len(b):
        return f"{len(a)} entries against {len(b)}"
    for x, y in zip(a, b, strict=True):
        if x != y:
            keys = sorted(k for k in {*x, *y} if x.get(k) != y.get(k))
            return f"{x.get('path')}: {', '.join(keys)} differ"
    return "same entries, different bytes (key order or spacing)"


def _odd_paths(folder: Path, sets: dict[str, list[str]]) -> list[str]:
    """Paths each read differently: missing, a folder (with a non-image in it), a
    dangling symbolic link, a named file that is not an image."""
    folder.mkdir()
    (folder / "notes.txt").write_text("not an image")
    first = next(iter(sets.values()), [])
    if first:
        (folder / "copy.png").write_bytes(Path(first[0]).read_bytes())
    (folder / "gone").symlink_to(folder / "nowhere")
    return [str(folder / "missing.png"), str(folder), str(folder / "gone"),
            str(folder / "notes.txt")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, metavar="DIR",
                        help="the other source tree (a checkout's src folder)")
    parser.add_argument("--corpus", action="append", default=[], metavar="DIR",
                        help="also every file under this folder (repeatable)")
    parser.add_argument("--files", type=int, nargs="*", default=[1000, 203],
                        help="sizes of the formats mix to compare")
    args = parser.parse_args()
    precompile(HERE_SRC, args.before)
    with tempfile.TemporaryDirectory() as tmp:
        sets: dict[str, list[str]] = {}
        for count in args.files:
            folder = Path(tmp) / f"mix{count}"
            folder.mkdir()
            for name, data in mixed_set(count):
                (folder / name).write_bytes(data)
            sets[f"formats mix, {count} files"] = sorted(str(p) for p in folder.iterdir())
        sets["odd paths (missing, a folder, a dangling link, not an image)"] = _odd_paths(
            Path(tmp) / "odd", sets)
        for corpus in args.corpus:
            sets[corpus] = sorted(str(p) for p in Path(corpus).rglob("*") if p.is_file())
        for label, files in sets.items():
            ours, theirs = _run(HERE_SRC, files), _run(args.before, files)
            if ours == theirs:
                print(f"same: {label} ({len(files)} files, {len(ours[1]):,} bytes, "
                      f"exit {ours[0]})")
                continue
            why = (f"exit {ours[0]} against {theirs[0]}" if ours[0] != theirs[0]
                   else _first_difference(ours[1], theirs[1]))
            print(f"DIFFERENT: {label}: {why}")
            raise SystemExit(1)


if __name__ == "__main__":
    main()
