"""Atomic, durable file writes.

Every write goes to a temp file in a directory on the same filesystem, is
fsynced, renamed over its final name, and the directory is fsynced, so a crash
at any instant leaves either the old file or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import errno
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
WRITEBACK_WINDOW = 256 * 1024 * 1024
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

    With ``source`` (the file the chunks are read from, in order from its
    start), each chunk is copied inside the kernel (``copy_file_range``) from
    the page cache the read just filled, instead of through this process; the
    caller must check that the source did not change while it was copied.
    """

    SYNC_WRITE = 2
    WAIT = 1 | 2 | 4  # WAIT_BEFORE | WRITE | WAIT_AFTER

    def __init__(self, f: BinaryIO, sync_file_range: Any, source: BinaryIO | None = None):
        self.f = f
        self.fd = f.fileno()
        self.offset = 0
        self.sync_file_range = sync_file_range
        self.source_fd = source.fileno() if source is not None else None

    def write(self, data: bytes | memoryview) -> int:
        n = len(data)
        if self.source_fd is not None:
            try:
                self._copy_range(self.source_fd, n)
            except OSError:
                self.source_fd = None  # another filesystem, an old kernel: write it
                self.f.seek(self.offset)
        if self.source_fd is None:
            self.f.write(data)
            self.f.flush()
        self.sync_file_range(self.fd, self.offset, n, self.SYNC_WRITE)
        if self.offset >= WRITEBACK_WINDOW:
            self.sync_file_range(self.fd, self.offset - WRITEBACK_WINDOW, n, self.WAIT)
        self.offset += n
        return n

    def _copy_range(self, source_fd: int, n: int) -> None:
        done = 0
        while done < n:
            at = self.offset + done
            copied = os.copy_file_range(source_fd, self.fd, n - done, at, at)
            if copied == 0:
                raise OSError(errno.EIO, "the source ended while it was copied")
            done += copied


def streaming_writeback(f: BinaryIO, size: int, source: BinaryIO | None = None) -> BinaryIO:
    """``f`` wrapped in ``StreamingWriteback`` when ``size`` is large and Linux allows."""
    fn = _sync_file_range() if size >= WRITEBACK_MIN else False
    return StreamingWriteback(f, fn, source) if fn else f  # type: ignore[return-value]
