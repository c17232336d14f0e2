"""Copying a file while hashing it: one read, hashing and writing side by side.

Small files are read, hashed and written in one loop. Large ones (models:
2-10 GB) go through a pipeline: this thread reads the source into a small
ring of page-aligned buffers and hashes each one, while a writer thread
writes the buffers already hashed. Hashing then costs no time of its own
(it runs while the disk writes), and the bytes stored are exactly the bytes
hashed: nothing reads the source a second time.

The writer bypasses the page cache (``O_DIRECT``) where the filesystem
allows it. A store copy of a checkpoint is not read again soon, so it should
not evict what the user is working with, and the kernel never holds
gigabytes of dirty pages to throttle the writer over and flush at the end.
Where ``O_DIRECT`` is refused (tmpfs, some FUSE filesystems, a tail that is
not block-aligned), writes go through the page cache and are sent to disk as
they are written (``sync_file_range``), so the dirty set stays within
``WRITEBACK_WINDOW`` and the closing fsync has little left to wait for.

``clone_or_copy`` first tries a copy-on-write clone (reflink), which copies
nothing, and then only reads the source to hash it.

The caller still fsyncs ``dst``: the pipeline makes the data reach the
disk early, not the file's metadata durable.
"""

from __future__ import annotations

import errno
import mmap
import os
import queue
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

from repro.objects.atomic import libc
from repro.objects.faults import checkpoint
from repro.objects.hashing import CHUNK, Progress, hash_stream, iter_chunks, new_hasher
from repro.objects.platform import fcntl

#: Files at least this large are copied through the pipeline.
PIPELINE_MIN = 64 * 1024 * 1024
#: Buffers in the ring: enough for the reader to run ahead while one is written.
BUFFERS = 4
#: Direct I/O wants offsets and lengths in whole blocks; 4 KiB suits every
#: common device (a larger requirement shows up as EINVAL, and the copy goes
#: on through the page cache).
DIRECT_ALIGN = 4096
FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)
#: The pipeline reads and writes by offset (``preadv``/``pwritev``), which Windows lacks.
PIPELINE_OK = hasattr(os, "preadv") and hasattr(os, "pwritev")
#: How far behind the writer the finished writeback may trail (buffered writes).
WRITEBACK_WINDOW = 256 * 1024 * 1024


#: Called with each chunk read and its offset in the source, in order (other
#: hashes computed in the same read pass).
Tap = Callable[[memoryview, int], None]


def clone_or_copy(src: BinaryIO, dst: BinaryIO, size_hint: int = 0,
                  progress: Progress | None = None, *, reflink: bool = False,
                  tap: Tap | None = None) -> str:
    """Make ``dst`` a copy-on-write clone of ``src`` when ``reflink`` is asked for and the
    filesystem can (btrfs, XFS, bcachefs), else a copy. Returns the BLAKE3 of the bytes."""
    if reflink and _try_reflink(src.fileno(), dst.fileno()):
        if tap is None:
            return hash_stream(src, size_hint, progress)
        h = new_hasher(size_hint)
        pos = 0
        for chunk in iter_chunks(src, size_hint=size_hint or None):
            h.update(chunk)
            tap(chunk, pos)
            pos += len(chunk)
            if progress:
                progress(len(chunk))
        return h.hexdigest()
    return copy_and_hash(src, dst, size_hint, progress, tap=tap)[0]


def copy_and_hash(src: BinaryIO, dst: BinaryIO, size_hint: int = 0,
                  progress: Progress | None = None, *, tap: Tap | None = None
                  ) -> tuple[str, int]:
    """Copy ``src`` (from its position) to ``dst`` while hashing it. Returns (hex, bytes).

    ``size_hint`` is the source's size; large files take the pipeline, which
    writes ``dst`` by offset from 0 and leaves nothing buffered in it.
    """
    if size_hint >= PIPELINE_MIN and PIPELINE_OK:
        dst.flush()
        return _Pipeline(src.fileno(), dst.fileno(), src.tell(), tap).run(progress, size_hint)
    h = new_hasher(size_hint)
    total = 0
    for chunk in iter_chunks(src, size_hint=size_hint or None):
        h.update(chunk)
        if tap is not None:
            tap(chunk, total)
        dst.write(chunk)
        checkpoint("copy.chunk")
        total += len(chunk)
        if progress:
            progress(len(chunk))
    return h.hexdigest(), total


class _Pipeline:
    """One large copy: ``run`` reads and hashes here; ``_write_all`` writes in a thread."""

    def __init__(self, src_fd: int, dst_fd: int, start: int, tap: Tap | None = None):
        self.tap = tap
        self.src_fd = src_fd
        self.dst_fd = dst_fd
        self.start = start
        self.free: queue.Queue[mmap.mmap] = queue.Queue()
        self.filled: queue.Queue[tuple[int, mmap.mmap, int] | None] = queue.Queue()
        self.error: BaseException | None = None
        self.direct = _set_direct(dst_fd, True)
        self.sync_file_range = _sync_file_range()

    def run(self, progress: Progress | None, size_hint: int) -> tuple[str, int]:
        # The writer needs a core of its own: on two cores a threaded BLAKE3
        # made the whole copy 1.1-4x slower (measured), so it hashes with
        # threads only where cores are left over.
        spare_cores = (os.cpu_count() or 1) > 2
        h = new_hasher(size_hint if spare_cores else 0)
        ring = [mmap.mmap(-1, CHUNK) for _ in range(BUFFERS)]
        for buf in ring:
            self.free.put(buf)
        writer = threading.Thread(target=self._write_all, name="repro-writer", daemon=True)
        writer.start()
        total = 0
        try:
            while self.error is None:
                buf = self.free.get()
                n = _read_full(self.src_fd, buf, self.start + total)
                if not n:
                    self.free.put(buf)
                    break
                with memoryview(buf) as view:
                    h.update(view[:n])
                    if self.tap is not None:
                        self.tap(view[:n], total)
                self.filled.put((total, buf, n))
                checkpoint("copy.chunk")
                total += n
                if progress:
                    progress(n)
        finally:
            self.filled.put(None)
            writer.join()
            if self.direct:
                _set_direct(self.dst_fd, False)
            # The ring is unmapped when the last view of it goes (an error's
            # traceback may hold one): closing it here could fail.
        if self.error is not None:
            raise self.error
        return h.hexdigest(), total

    def _write_all(self) -> None:
        while (item := self.filled.get()) is not None:
            offset, buf, n = item
            try:
                if self.error is None:
                    with memoryview(buf) as view:
                        self._write(view[:n], offset)
            except BaseException as exc:  # handed to the reading thread
                self.error = exc
            finally:
                self.free.put(buf)

    def _write(self, data: memoryview, offset: int) -> None:
        if self.direct:
            aligned = len(data) - len(data) % DIRECT_ALIGN if offset % DIRECT_ALIGN == 0 else 0
            try:
                if aligned:
                    _pwrite_all(self.dst_fd, data[:aligned], offset)
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
                aligned = 0  # the device wants larger blocks: write it buffered
            if aligned == len(data):
                return
            # A tail that is not whole blocks: the rest of the file goes buffered.
            _set_direct(self.dst_fd, False)
            self.direct = False
            data, offset = data[aligned:], offset + aligned
        _pwrite_all(self.dst_fd, data, offset)
        self._write_back(offset, len(data))

    def _write_back(self, offset: int, n: int) -> None:
        """Start writeback of what was just written; wait for the range a window behind."""
        if not self.sync_file_range:
            return
        self.sync_file_range(self.dst_fd, offset, n, _SYNC_FILE_RANGE_WRITE)
        if offset >= WRITEBACK_WINDOW:
            self.sync_file_range(self.dst_fd, offset - WRITEBACK_WINDOW, n, _SYNC_FILE_RANGE_WAIT)


def _try_reflink(src_fd: int, dst_fd: int) -> bool:
    if fcntl is None:  # Windows: no FICLONE (ReFS block cloning is not asked for)
        return False
    try:
        fcntl.ioctl(dst_fd, FICLONE, src_fd)
    except OSError:
        return False
    return True


def _read_full(fd: int, buf: mmap.mmap, offset: int) -> int:
    """Fill ``buf`` from ``offset`` (short only at the end of the file)."""
    with memoryview(buf) as view:
        got = 0
        while got < len(view):
            n = os.preadv(fd, [view[got:]], offset + got)
            if not n:
                break
            got += n
        return got


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    while data:
        n = os.pwritev(fd, [data], offset)
        data, offset = data[n:], offset + n


def _set_direct(fd: int, on: bool) -> bool:
    """Turn ``O_DIRECT`` on or off for ``fd``; whether that worked."""
    flag = getattr(os, "O_DIRECT", 0)
    if not flag or fcntl is None:
        return False
    try:
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags | flag if on else flags & ~flag)
    except OSError:
        return False
    return True


_SYNC_FILE_RANGE_WRITE = 2
_SYNC_FILE_RANGE_WAIT = 1 | 2 | 4  # WAIT_BEFORE | WRITE | WAIT_AFTER


def _sync_file_range() -> Any:
    """libc ``sync_file_range`` (Linux, 64-bit offsets), or None where there is none."""
    fn = libc("sync_file_range")
    if fn is not None:
        import ctypes

        fn.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
    return fn
