"""The single-writer lock: ``.repro/lock``.

An OS lock on the lock file is what excludes (``flock``; on Windows
``msvcrt.locking``: ``repro.objects.platform``); the pid, host and start time
written into it are for people ("who holds it?"). The kernel drops an flock
when its process dies, so the lock of a crashed writer is free at once; the
stale pid left in the file is reported when it is taken over.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from repro.errors import LockError, ReadOnlyStore
from repro.objects.platform import (
    hostname,
    lock_nonblocking,
    pid_alive,
    unlock,
    write_at_start,
)


def _describe(path: Path) -> str:
    try:
        text = path.read_text().strip()
    except OSError:
        return "another process"
    return text.replace("\n", ", ") or "another process"


def _pid_alive(pid: int) -> bool:
    return pid_alive(pid)


def owner_tag() -> str:
    """``host pid`` of this process, for markers that must outlive only their writer."""
    return f"{hostname()} {os.getpid()}"


def owner_gone(tag: str) -> bool:
    """Whether the process an ``owner_tag`` names has ended (unknown hosts: assumed alive)."""
    host, _, pid = tag.partition(" ")
    if host != hostname():
        return False
    try:
        return not _pid_alive(int(pid))
    except ValueError:
        return True


def stale_holder(path: Path) -> str | None:
    """Who left the lock file behind, when it names a process of this host that is gone."""
    try:
        text = path.read_text(errors="replace")[:4096]
    except OSError:
        return None
    fields = dict(line.split(" ", 1) for line in text.splitlines() if " " in line)
    try:
        pid = int(fields.get("pid", ""))
    except ValueError:
        return None
    if fields.get("host") not in (None, hostname()) or pid <= 0 or _pid_alive(pid):
        return None
    return text.strip().replace("\n", ", ")


@contextlib.contextmanager
def write_lock(path: Path, *, timeout: float = 60.0,
               notify: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the repository's write lock; wait up to ``timeout`` seconds for it."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise ReadOnlyStore(f"the repository is read-only ({exc.strerror}: {path})"
                                ) from None
        raise
    try:
        deadline = time.monotonic() + timeout
        told = False
        while True:
            try:
                lock_nonblocking(fd, path)
                break
            except BlockingIOError:
                if not told and notify:
                    notify(f"waiting for the repository lock held by {_describe(path)}")
                    told = True
                if time.monotonic() >= deadline:
                    raise LockError(f"the repository is locked by {_describe(path)}") from None
                time.sleep(0.05)
        previous = stale_holder(path) if notify else None
        if notify and previous:
            notify(f"took over a stale lock left by a process that is gone ({previous})")
        info = (f"pid {os.getpid()}\nhost {hostname()}\n"
                f"started {datetime.now(UTC).isoformat(timespec='seconds')}\n")
        # Who holds it is for people; on a full disk the lock alone still excludes
        # (and gc, which frees space, must be able to run).
        with contextlib.suppress(OSError):
            write_at_start(fd, info.encode())
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            unlock(fd, path)
    finally:
        os.close(fd)
