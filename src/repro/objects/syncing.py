"""Making a group of new files durable: an fsync each, or one ``syncfs``.

An fsync of a small file costs about 0.2 ms on an idle disk and several ms
on a loaded one; a ``syncfs`` flushes the whole filesystem at once, but also
waits for every other program's dirty data. A group of ``SYNCFS_MIN_FILES``
or more is synced at once. A smaller group is synced a file at a time until
that has taken as long as the last ``syncfs`` of this ``Syncer`` did; then
one ``syncfs`` does the rest. So, once a ``syncfs`` has been measured, a
group costs at most about twice the cheaper way: the last, short batch of a
300-image ``add`` took four times as long as its full batch of 256 when it
went file by file on a loaded machine.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from repro.objects.atomic import libc
from repro.objects.platform import open_dir

#: A group of at least this many files is made durable with one ``syncfs``.
SYNCFS_MIN_FILES = 256

T = TypeVar("T")


class Syncer:
    """Syncs groups of files, remembering what a ``syncfs`` last cost."""

    def __init__(self) -> None:
        self.syncfs_seconds: float | None = None

    def sync_each(self, items: Sequence[T], sync_one: Callable[[T], None], folder: Path) -> bool:
        """Make every item durable; True when that took a ``syncfs`` of ``folder``'s
        filesystem (which also covers whatever else is dirty there)."""
        if len(items) >= SYNCFS_MIN_FILES and self.syncfs(folder):
            return True
        start = time.perf_counter()
        for item in items:
            if (self.syncfs_seconds is not None
                    and time.perf_counter() - start > self.syncfs_seconds
                    and self.syncfs(folder)):
                return True
            sync_one(item)
        return False

    def syncfs(self, folder: Path) -> bool:
        """Flush the filesystem holding ``folder`` (Linux ``syncfs``, else a full
        ``sync``); False where folders cannot be opened (Windows), having done nothing."""
        fd = open_dir(folder)
        if fd is None:
            return False
        start = time.perf_counter()
        try:
            syncfs = libc("syncfs")
            if not (syncfs and syncfs(fd) == 0):
                os.sync()
        finally:
            os.close(fd)
        self.syncfs_seconds = time.perf_counter() - start
        return True


def fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
