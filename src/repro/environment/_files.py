"""Bounded reads of small text files the environment probes look at."""

from __future__ import annotations

import os
from pathlib import Path

#: Largest text file an environment probe reads (version files, METADATA heads, configs).
MAX_TEXT_BYTES = 1024 * 1024


def read_text(path: str | os.PathLike[str], *, limit: int = MAX_TEXT_BYTES) -> str | None:
    """The first ``limit`` bytes of a file as text, or None when it cannot be read.

    Environment probes tolerate missing pieces, so an unreadable file is
    "unknown", not an error. Undecodable bytes are replaced rather than fatal.
    """
    try:
        with open(path, "rb") as f:
            data = f.read(limit)
    except OSError:
        return None
    return data.decode("utf-8", errors="replace")


def is_dir(path: Path) -> bool:
    """``path.is_dir()`` that treats permission and other OS errors as False."""
    try:
        return path.is_dir()
    except OSError:
        return False


def list_dir(path: Path, *, limit: int = 100_000) -> list[Path]:
    """Sorted entries of a folder (at most ``limit``); empty when unreadable."""
    out: list[Path] = []
    try:
        with os.scandir(path) as it:
            for entry in it:
                out.append(Path(entry.path))
                if len(out) >= limit:
                    break
    except OSError:
        return []
    return sorted(out)
