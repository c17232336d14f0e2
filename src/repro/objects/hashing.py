"""BLAKE3 over files: one streaming read, both cores, never a whole file in memory.

``new_hasher`` makes a blake3 hasher whose thread count follows the disk: BLAKE3's
multi-threaded mode reads a large buffer in parallel pieces, which is fast on
SSDs and page cache and much slower on a spinning disk (seeks), so files on a
rotational device are hashed with one thread.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import blake3

#: Read size for streaming. Large enough for BLAKE3's threads to pay off,
#: small enough that memory stays flat whatever the file size.
CHUNK = 8 * 1024 * 1024
#: Below this, threads cost more than they give.
THREADS_MIN_BYTES = 4 * 1024 * 1024

Progress = Callable[[int], None]
"""Called with the number of bytes just processed."""


def is_rotational(file: str | os.PathLike[str] | int) -> bool:
    """Whether a file (a path or an open descriptor) lives on a spinning disk
    (Linux sysfs; False when unknown)."""
    try:
        st = os.fstat(file) if isinstance(file, int) else os.stat(file)
    except OSError:
        return False
    return _device_rotational(st.st_dev)


@functools.cache
def _device_rotational(dev: int) -> bool:
    major, minor = os.major(dev), os.minor(dev)
    sys_dev = Path(f"/sys/dev/block/{major}:{minor}")
    for candidate in (sys_dev / "queue" / "rotational", sys_dev / ".." / "queue" / "rotational"):
        try:
            return candidate.read_text().strip() == "1"
        except OSError:
            continue
    return False


def new_hasher(size_hint: int = 0, *, fd: int | None = None) -> blake3.blake3:
    """A BLAKE3 hasher with threads when the input is large and not read from a
    spinning disk (``fd``: the file the input comes from)."""
    if size_hint >= THREADS_MIN_BYTES and not (fd is not None and is_rotational(fd)):
        return blake3.blake3(max_threads=blake3.blake3.AUTO)
    return blake3.blake3()


def iter_chunks(f: BinaryIO, size: int = CHUNK, *, size_hint: int | None = None
                ) -> Iterator[memoryview]:
    """Read ``f`` to its end in reusable chunks (the view is valid until the next one).

    ``size_hint`` (the file's size, when known) keeps the buffer small for small files.
    """
    if size_hint is not None:
        size = max(4096, min(size, size_hint + 1))
    buf = bytearray(size)
    view = memoryview(buf)
    while True:
        n = f.readinto(buf)  # type: ignore[attr-defined]
        if not n:
            return
        yield view[:n]


def hash_stream(f: BinaryIO, size_hint: int = 0, progress: Progress | None = None) -> str:
    """BLAKE3 hex digest of everything left in ``f`` (an open file)."""
    h = new_hasher(size_hint, fd=f.fileno())
    for chunk in iter_chunks(f, size_hint=size_hint or None):
        h.update(chunk)
        if progress:
            progress(len(chunk))
    return h.hexdigest()


def hash_file(path: str | os.PathLike[str], progress: Progress | None = None) -> str:
    """BLAKE3 hex digest of a file's bytes, read once in chunks."""
    with open(path, "rb", buffering=0) as f:
        size = os.fstat(f.fileno()).st_size
        return hash_stream(f, size, progress)


def hash_bytes(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()

