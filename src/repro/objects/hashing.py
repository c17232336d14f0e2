"""BLAKE3 over files: both cores, never a whole file in memory.

Large inputs are hashed with BLAKE3's threads (``new_hasher``). Threads are
always good on bytes already in memory; they are bad only when they fault a
file's pages in themselves, from a memory map, on a disk that seeks (their
parallel pieces become random reads). So ``hash_stream`` decides how to read,
not whether to use threads, and decides by measuring: a chunk that came from
memory (the page cache) lets the threads read the next one straight from a
memory map (no copy through ``read()``); a chunk that came from the disk makes
the next one a plain sequential ``read()``. Where the kernel counts what a
process read from disk (Linux ``ru_inblock``) that count decides: a loaded
machine preempts a page-cached read as long as it likes, which a clock would
take for a slow disk (under a load of 20, 512 MiB page-cached then took
1.4-1.7x ``update_mmap``, chunk after chunk read through ``read()``).
Elsewhere a chunk that arrived at ``MEMORY_SPEED`` counts as from memory. The
sysfs ``rotational`` flag is not asked: a virtio disk reports 1 while its
files sit in the page cache.
"""

from __future__ import annotations

import mmap
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO

import blake3

#: Read size for streaming. Large enough for BLAKE3's threads to pay off,
#: small enough that memory stays flat whatever the file size.
CHUNK = 8 * 1024 * 1024
#: Bytes hashed in one call from a memory map (fewer calls into the thread pool).
MAPPED_CHUNK = 4 * CHUNK
#: Below this, threads cost more than they give.
THREADS_MIN_BYTES = 4 * 1024 * 1024
#: A chunk that came at least this fast (bytes/s) came from memory, not from a
#: seeking disk (which stays under 0.3 GB/s): the next is read from the map.
MEMORY_SPEED = 1_000_000_000
#: A chunk counts as from memory when at most this share of it was read from disk.
FROM_DISK_SHARE = 1 / 8

Progress = Callable[[int], None]
"""Called with the number of bytes just processed."""


def new_hasher(size_hint: int = 0) -> blake3.blake3:
    """A BLAKE3 hasher with threads when the input is large enough to pay for them."""
    if size_hint >= THREADS_MIN_BYTES:
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
    h = new_hasher(size_hint)
    if size_hint >= THREADS_MIN_BYTES and _hash_mapped(h, f, progress):
        return h.hexdigest()
    for chunk in iter_chunks(f, size_hint=size_hint or None):
        h.update(chunk)
        if progress:
            progress(len(chunk))
    return h.hexdigest()


def _hash_mapped(h: blake3.blake3, f: BinaryIO, progress: Progress | None) -> bool:
    """Feed ``h`` the rest of ``f``, each chunk from a memory map or by ``read()``
    as where the previous chunk came from says (see the module docstring); False, with
    nothing read, for a file that cannot be mapped (a pipe, an empty file)."""
    try:
        start = f.tell()
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return False
    buf = bytearray(CHUNK)
    with mapped, memoryview(mapped) as view, memoryview(buf) as into:
        # A file truncated by another program while it is mapped would fault
        # (SIGBUS) on the missing pages: the map covers the size at this moment,
        # as the stat the caller keeps does; models are not written in place.
        pos, end = start, len(mapped)
        fast = False
        while pos < end:
            t, disk = time.perf_counter(), disk_read_bytes()
            if fast:
                n = min(MAPPED_CHUNK, end - pos)
                h.update(view[pos:pos + n])
            else:
                f.seek(pos)
                n = f.readinto(into[:min(CHUNK, end - pos)])  # type: ignore[attr-defined]
                if not n:
                    break
            was_mapped, fast = fast, _from_memory(n, time.perf_counter() - t, disk)
            if not was_mapped:
                h.update(into[:n])
            pos += n
            if progress:
                progress(n)
        f.seek(pos)
    return True


def disk_read_bytes() -> int | None:
    """Bytes this process has read from disk so far (Linux counts them in 512-byte
    blocks, page faults of a memory map included); None where that is not known."""
    if not sys.platform.startswith("linux"):
        return None
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_inblock * 512


def _from_memory(n: int, took: float, disk_before: int | None) -> bool:
    """Whether ``n`` bytes just read (in ``took`` seconds) came from memory."""
    disk_after = disk_read_bytes() if disk_before is not None else None
    if disk_before is None or disk_after is None:
        return n >= took * MEMORY_SPEED
    return disk_after - disk_before <= n * FROM_DISK_SHARE


def hash_file(path: str | os.PathLike[str], progress: Progress | None = None) -> str:
    """BLAKE3 hex digest of a file's bytes, read once in chunks."""
    with open(path, "rb", buffering=0) as f:
        size = os.fstat(f.fileno()).st_size
        return hash_stream(f, size, progress)


def hash_bytes(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()

