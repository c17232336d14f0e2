"""Helpers the benchmark scripts share: sizes, big model files, the command under test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
#: Written again and again to make a big file: incompressible, and cheap to make.
_BLOCK = 64 << 20


def parse_size(text: str) -> int:
    """``2G``, ``512M``, ``1.5GiB``, ``4096`` -> bytes."""
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = text[-1:] if text[-1:] in UNITS else ""
    try:
        return int(float(text[: len(text) - len(unit)]) * UNITS[unit])
    except ValueError:
        raise SystemExit(f"bad size {text!r}") from None


def write_model(path: Path, size: int) -> None:
    """A safetensors file of ``size`` bytes: one U8 tensor of random bytes."""
    header_len = 256
    data_len = size - 8 - header_len
    header = json.dumps({"__metadata__": {"format": "pt"},
                         "w": {"dtype": "U8", "shape": [data_len],
                               "data_offsets": [0, data_len]}}).encode()
    block = os.urandom(min(_BLOCK, data_len))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(header_len.to_bytes(8, "little"))
        f.write(header.ljust(header_len))
        left = data_len
        while left:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n


def warm(path: Path) -> None:
    """Read a file once so that it is in the page cache."""
    with open(path, "rb", buffering=0) as f:
        while f.read(16 << 20):
            pass


def precompile(*srcs: str | Path) -> None:
    """Write the bytecode of every module under ``srcs`` before anything is timed: a
    Python run with ``PYTHONDONTWRITEBYTECODE=1`` (as in this project's shell) would
    otherwise compile an editable install again in every process, about 0.06 s."""
    for src in srcs:
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(src)], check=True,
                       stdout=subprocess.DEVNULL)


#: This checkout's source folder.
HERE_SRC = str(Path(__file__).resolve().parent.parent / "src")


def source_trees(before: str | None) -> dict[str, str]:
    """The source folders a benchmark times, by row label: this checkout's (``""``) and,
    given ``--before``, another checkout's (``"before: "``), both precompiled."""
    trees = {"": HERE_SRC, **({"before: ": str(Path(before).resolve())} if before else {})}
    precompile(*trees.values())
    return trees


def repro_exe() -> str:
    """The ``repro`` console script of this environment, its code compiled to bytecode
    (that of this checkout and of every ``PYTHONPATH`` folder: see ``precompile``)."""
    import repro

    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    precompile(Path(repro.__file__).parent, *(p for p in paths if p and Path(p).is_dir()))
    return shutil.which("repro") or str(Path(sys.executable).with_name("repro"))


def clean_env() -> dict[str, str]:
    """This environment without ``REPRO_*`` variables (test hooks must not leak in)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("REPRO_")}
