"""Writing below a trusted folder without following symlinks.

A path checked and then used can change in between: a folder swapped for a
symlink leads the write elsewhere, a file that appears is overwritten. Here
each folder on the way is opened relative to the one before with
``O_NOFOLLOW`` (``openat``), and the file is put in place with ``link``
(which fails if the name exists) or ``rename`` (which replaces the name, never
what a symlink there points to), relative to that folder's descriptor.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from repro.errors import ChecksumMismatch, ConflictError, UnsafePath
from repro.objects import copying, hashing
from repro.objects.atomic import TMP_PREFIX, new_file_mode
from repro.objects.faults import checkpoint

_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC

#: Whether this platform has what is needed (POSIX ``openat``/``linkat``; not Windows,
#: where the caller checks paths and then writes them).
AVAILABLE = bool(_O_DIRECTORY and _O_NOFOLLOW) and os.open in os.supports_dir_fd \
    and os.link in os.supports_dir_fd and os.replace in os.supports_dir_fd


@contextlib.contextmanager
def folder(root: Path, parts: Sequence[str], *, create: bool, what: str) -> Iterator[int]:
    """A descriptor of ``root/parts...``, each part opened without following a
    symlink (created when missing and ``create``); ``UnsafePath`` for a symlink
    or non-folder on the way, ``FileNotFoundError`` for a missing one otherwise."""
    if create:
        root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)  # the root is trusted
    try:
        for part in parts:
            try:
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, dir_fd=fd)
                nxt = _open_dir(part, fd, what)
            except OSError as exc:
                raise _unsafe(exc, what) from None
            os.close(fd)
            fd = nxt
        yield fd
    finally:
        os.close(fd)


def _open_dir(part: str, fd: int, what: str) -> int:
    try:
        return os.open(part, _DIR_FLAGS, dir_fd=fd)
    except OSError as exc:
        raise _unsafe(exc, what) from None


def _unsafe(exc: OSError, what: str) -> OSError | UnsafePath:
    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
        return UnsafePath(f"refusing to write {what!r}: a symlink or file is where a "
                          "folder should be on its way")
    return exc


def open_file(dir_fd: int, name: str, what: str) -> int:
    """An existing file in the folder, read-only, not through a symlink."""
    try:
        return os.open(name, os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePath(f"refusing to write {what!r}: the destination is a symlink"
                             ) from None
        raise


def place(src: Path, oid: str, dir_fd: int, name: str, *, replace: bool, tmp_dir: Path,
          hardlink: bool = False, reflink: bool = False, what: str,
          progress: hashing.Progress | None = None) -> None:
    """Put a verified copy (or a hard link) of the object file ``src`` at
    ``name`` in the folder: over what is there when ``replace``, else only if the
    name is free (``ConflictError`` when something appeared meanwhile)."""
    tmp_in_store = os.fstat(dir_fd).st_dev == os.stat(tmp_dir).st_dev
    if hardlink and os.fstat(dir_fd).st_dev == os.stat(src).st_dev:
        if not replace:
            _link_new(str(src), None, dir_fd, name, what)
            return
        tmp_name = _tmp_name()
        try:
            os.link(src, tmp_name, dst_dir_fd=dir_fd)
            os.replace(tmp_name, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name, dir_fd=dir_fd)
            raise
        os.fsync(dir_fd)
        return
    # The temp file goes to the store's tmp folder (cleaned after a crash) when a
    # rename can reach the destination from there, else into the folder itself.
    if tmp_in_store:
        fd, tmp_path = tempfile.mkstemp(prefix=TMP_PREFIX, dir=tmp_dir)
        tmp: str = tmp_path
        tmp_dir_fd: int | None = None
    else:
        tmp = _tmp_name()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC,
                     0o600, dir_fd=dir_fd)
        tmp_dir_fd = dir_fd
    try:
        with os.fdopen(fd, "wb") as fout, open(src, "rb", buffering=0) as fin:
            got = copying.clone_or_copy(fin, fout, os.fstat(fin.fileno()).st_size, progress,
                                        reflink=reflink)
            if got != oid:
                raise ChecksumMismatch(f"object {oid} (store damaged)", oid, got)
            fout.flush()
            os.fchmod(fout.fileno(), new_file_mode())
            os.fsync(fout.fileno())
        checkpoint("atomic.synced")
        if replace:
            os.replace(tmp, name, src_dir_fd=tmp_dir_fd, dst_dir_fd=dir_fd)
        else:
            _link_new(tmp, tmp_dir_fd, dir_fd, name, what)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=tmp_dir_fd)
    os.fsync(dir_fd)


def _link_new(src: str, src_dir_fd: int | None, dir_fd: int, name: str, what: str) -> None:
    try:
        os.link(src, name, src_dir_fd=src_dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
    except FileExistsError:
        raise ConflictError(f"{what} has other content than the recorded version (it "
                            "appeared while checkout waited); not overwritten") from None


def _tmp_name() -> str:
    return f".{TMP_PREFIX}repro-{os.getpid()}-{os.urandom(4).hex()}"
