"""Atomic, durable file writes.

Every write goes to a temp file in a directory on the same filesystem, is
fsynced, renamed over its final name, and the directory is fsynced, so a crash
at any instant leaves either the old file or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from repro.objects.faults import checkpoint
from repro.objects.platform import fsync_dir

__all__ = ["NEW_FILE", "TMP_PREFIX", "atomic_writer", "fsync_dir", "libc", "make_temp",
           "new_file_mode", "write_bytes"]

TMP_PREFIX = "tmp-"
#: ``os.open`` flags that create a file that must not exist yet, never through a symlink.
NEW_FILE = os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0) \
    | getattr(os, "O_BINARY", 0)


def make_temp(folder: str | os.PathLike[str], prefix: str = TMP_PREFIX) -> tuple[int, str]:
    """A new file of mode 0o600 under a random name in ``folder``, opened for
    writing: ``(fd, path)``. What ``tempfile.mkstemp`` does, without importing
    ``tempfile`` (and with it ``shutil``, ``random``, ``bz2`` and ``lzma``) into
    every ``repro`` process."""
    while True:
        name = os.path.join(folder, prefix + os.urandom(8).hex())
        try:
            return os.open(name, os.O_RDWR | NEW_FILE, 0o600), name
        except FileExistsError:
            continue


@contextlib.contextmanager
def atomic_writer(dest: str | os.PathLike[str], *, tmp_dir: str | os.PathLike[str] | None = None,
                  mode: int | None = None) -> Iterator[BinaryIO]:
    """Yield a file to write; on success it replaces ``dest`` atomically.

    On any exception the temp file is removed and ``dest`` is untouched.
    ``tmp_dir`` must be on the same filesystem as ``dest`` (default: its folder).
    """
    dest = Path(dest)
    folder = Path(tmp_dir) if tmp_dir is not None else dest.parent
    fd, tmp_name = make_temp(folder)
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


def new_file_mode() -> int:
    """The mode ``open()`` would give a new file here: 0o666 less the process umask
    (a temp file from ``mkstemp`` is 0o600 whatever the umask)."""
    status = Path("/proc/self/status")
    try:
        for line in status.read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o022)  # no /proc: read it by setting it, and put it back at once
    os.umask(umask)
    return 0o666 & ~umask


def write_bytes(dest: str | os.PathLike[str], data: bytes, *,
                tmp_dir: str | os.PathLike[str] | None = None, mode: int | None = None) -> None:
    with atomic_writer(dest, tmp_dir=tmp_dir, mode=mode) as f:
        f.write(data)


@functools.cache
def libc(name: str) -> Any:
    """The C library's function ``name`` (``syncfs``, ``sync_file_range``...), or None
    where this platform has none."""
    try:
        import ctypes

        return getattr(ctypes.CDLL(None, use_errno=True), name)
    except (OSError, AttributeError):
        return None
