"""The output step: an image's bytes read once, its hashes and its time."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

from repro.capture.containers import sniff

#: Outputs up to this size are read into memory once (images are small).
SMALL_OUTPUT = 64 * 1024 * 1024


def read_image(path: Path) -> tuple[bytes | None, os.stat_result | None]:
    """An image's bytes when it is small enough to hold (and is an image at all:
    the magic bytes are checked before the rest is read), with its stat; nothing
    when it cannot be opened (``read_file`` then says why)."""
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if st.st_size > SMALL_OUTPUT:
                return None, st
            head = f.read(16)
            if sniff(head) is None:
                return None, st
            return head + f.read(), st
    except OSError:
        return None, None


def sha256_of(data: bytes | None, path: Path) -> str:
    if data is not None:
        return hashlib.sha256(data).hexdigest()
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def iso_time(ts: float) -> str:
    """A POSIX time as records spell it: UTC ISO 8601 with milliseconds and ``Z``."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")
