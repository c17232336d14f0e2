"""Atomic, durable file writes.

Every write goes to a temp file in a directory on the same filesystem, is
fsynced, renamed over its final name, and the directory is fsynced, so a crash
at any instant leaves either the old file or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from repro.objects.faults import checkpoint

TMP_PREFIX = "tmp-"


def fsync_dir(path: str | os.PathLike[str]) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(dest: str | os.PathLike[str], *, tmp_dir: str | os.PathLike[str] | None = None,
                  mode: int | None = None) -> Iterator[BinaryIO]:
    """Yield a file to write; on success it replaces ``dest`` atomically.

    On any exception the temp file is removed and ``dest`` is untouched.
    ``tmp_dir`` must be on the same filesystem as ``dest`` (default: its folder).
    """
    dest = Path(dest)
    folder = Path(tmp_dir) if tmp_dir is not None else dest.parent
    fd, tmp_name = tempfile.mkstemp(prefix=TMP_PREFIX, dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            checkpoint("atomic.written")
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp_name, mode)
        checkpoint("atomic.synced")
        os.replace(tmp_name, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    checkpoint("atomic.replaced")
    fsync_dir(dest.parent)


def write_bytes(dest: str | os.PathLike[str], data: bytes, *,
                tmp_dir: str | os.PathLike[str] | None = None, mode: int | None = None) -> None:
    with atomic_writer(dest, tmp_dir=tmp_dir, mode=mode) as f:
        f.write(data)


#: Files at least this large are written back to disk while they are written.
WRITEBACK_MIN = 64 * 1024 * 1024
#: How far behind the writer the finished writeback may trail.
WRITEBACK_WINDOW = 32 * 1024 * 1024
_SYNC_FILE_RANGE: Any = None


def _sync_file_range() -> Any:
    """libc ``sync_file_range`` (Linux), or False where there is none."""
    global _SYNC_FILE_RANGE
    if _SYNC_FILE_RANGE is None:
        try:
            import ctypes

            fn = ctypes.CDLL(None, use_errno=True).sync_file_range
            fn.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
            _SYNC_FILE_RANGE = fn
        except (OSError, AttributeError):
            _SYNC_FILE_RANGE = False
    return _SYNC_FILE_RANGE


class StreamingWriteback:
    """A file being written whose pages go to disk as they are written.

    Copying a multi-GB model leaves that much dirty page cache, and the kernel
    then throttles the writer hard; the closing fsync still waits for all of it.
    Starting writeback of each chunk at once, and waiting for the range
    ``WRITEBACK_WINDOW`` behind, keeps the dirty set small and the disk busy
    from the start, so the durable copy costs about what the disk takes.
    """

    SYNC_WRITE = 2
    WAIT = 1 | 2 | 4  # WAIT_BEFORE | WRITE | WAIT_AFTER

    def __init__(self, f: BinaryIO, sync_file_range: Any):
        self.f = f
        self.fd = f.fileno()
        self.offset = 0
        self.sync_file_range = sync_file_range

    def write(self, data: bytes | memoryview) -> int:
        n = self.f.write(data)
        self.f.flush()
        self.sync_file_range(self.fd, self.offset, n, self.SYNC_WRITE)
        if self.offset >= WRITEBACK_WINDOW:
            self.sync_file_range(self.fd, self.offset - WRITEBACK_WINDOW, n, self.WAIT)
        self.offset += n
        return n


def streaming_writeback(f: BinaryIO, size: int) -> BinaryIO:
    """``f`` wrapped in ``StreamingWriteback`` when ``size`` is large and Linux allows."""
    fn = _sync_file_range() if size >= WRITEBACK_MIN else False
    return StreamingWriteback(f, fn) if fn else f  # type: ignore[return-value]
