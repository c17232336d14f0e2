"""What differs between POSIX and Windows, in one place: file locks, directory
fsync, whether a process is alive.

- Locks: ``flock`` where ``fcntl`` exists; ``msvcrt.locking`` on Windows (one
  byte far past the end of the lock file, so the holder's pid, host and time
  written at its start stay readable by the process told to wait); elsewhere an
  exclusive side file (``lock.excl``) that a waiter takes over when the process
  it names on this host is gone.
- Directory fsync: POSIX makes a rename durable by fsyncing the folder; Windows
  cannot open a folder as a file, and NTFS journals the rename itself.
- Process liveness: ``os.kill(pid, 0)`` on POSIX; on Windows signal 0 is
  CTRL_C_EVENT, so the process is opened and its exit code asked instead.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

fcntl: Any
msvcrt: Any
try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
try:
    import msvcrt
except ImportError:  # POSIX
    msvcrt = None

#: Where a Windows lock takes its byte: past any lock file's content.
_WIN_LOCK_OFFSET = 1 << 30
_EXCL_SUFFIX = ".excl"


def lock_nonblocking(fd: int, path: str | os.PathLike[str]) -> None:
    """Take an exclusive lock on the open lock file ``fd`` (at ``path``), or raise
    ``BlockingIOError`` at once when another process holds it."""
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    elif msvcrt is not None:
        os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError as exc:  # EACCES / EDEADLOCK: held by someone else
            raise BlockingIOError(str(exc)) from None
    else:
        _take_side_file(os.fspath(path) + _EXCL_SUFFIX)


def unlock(fd: int, path: str | os.PathLike[str]) -> None:
    """Release ``lock_nonblocking``'s lock."""
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
    elif msvcrt is not None:
        os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
        with contextlib.suppress(OSError):
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.fspath(path) + _EXCL_SUFFIX)


def _take_side_file(excl: str) -> None:
    try:
        fd = os.open(excl, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        try:
            with open(excl) as f:
                host, _, pid = f.read(200).strip().partition(" ")
        except OSError:
            raise BlockingIOError(excl) from None
        if host != hostname() or not pid.isdigit() or pid_alive(int(pid)):
            raise BlockingIOError(excl) from None
        # Its holder is gone: take it over (one waiter wins the exclusive create).
        with contextlib.suppress(FileNotFoundError):
            os.unlink(excl)
        try:
            fd = os.open(excl, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raise BlockingIOError(excl) from None
    try:
        os.write(fd, f"{hostname()} {os.getpid()}".encode())
    finally:
        os.close(fd)


def hostname() -> str:
    """This machine's name, as ``socket.gethostname()`` gives it; from ``os.uname``
    where there is one (both read the kernel's node name), since importing
    ``socket`` costs 1-2 ms of every ``add``."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket  # pragma: no cover - Windows only
    return socket.gethostname()  # pragma: no cover


def write_at_start(fd: int, data: bytes) -> None:
    """Replace the content of the open file ``fd`` with ``data``."""
    os.ftruncate(fd, 0)
    if hasattr(os, "pwrite"):
        os.pwrite(fd, data, 0)
    else:
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, data)


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make the entries of folder ``path`` durable (a rename into it); a no-op where a
    folder cannot be opened (Windows: NTFS journals renames)."""
    flag = getattr(os, "O_DIRECTORY", None)
    if flag is None:
        return
    fd = os.open(path, os.O_RDONLY | flag)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_dir(path: str | os.PathLike[str]) -> int | None:
    """A descriptor of folder ``path`` (for ``syncfs``), or None where folders cannot be
    opened."""
    flag = getattr(os, "O_DIRECTORY", None)
    return None if flag is None else os.open(path, os.O_RDONLY | flag)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host is running (unknown: assumed alive)."""
    if sys.platform == "win32":
        return _win_pid_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    return True


def _win_pid_alive(pid: int) -> bool:  # pragma: no cover - Windows only
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return bool(kernel32.GetLastError() == 5)  # access denied: it exists
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)
