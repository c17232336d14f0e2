"""A remote in a plain folder: a NAS share mounted on every machine.

Immutable objects are written to a temp file under ``tmp/``, fsynced, and
published with ``link()`` (which fails when the name exists: create-if-absent
without a window). Small mutable objects (the index head, tags) move under a
lock file made with ``O_CREAT | O_EXCL`` beside them: read, compare, write
atomically, unlock. A lock left by a crashed writer is taken over after
``STALE_LOCK`` seconds; its temp files are removed after ``STALE_TEMP``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from repro.errors import NotFound, RemoteError
from repro.objects.atomic import atomic_writer, fsync_dir
from repro.objects.faults import checkpoint
from repro.objects.hashing import hash_bytes
from repro.remote.base import CasConflict, Unfinished, Version
from repro.remote.spec import check_key

STALE_LOCK = 60.0
LOCK_WAIT = 30.0
#: A temp file untouched this long was left by a killed writer (a live one writes to it).
STALE_TEMP = 3600.0


class FolderRemote:
    cas_method = "lock file (O_EXCL) beside the object"

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        if not self.root.is_dir():
            raise RemoteError(f"remote folder {self.root} does not exist",
                              hint="mount the share, or create the folder on it first")
        self.tmp = self.root / "tmp"
        with self._writing():
            self.tmp.mkdir(exist_ok=True)
        self._sweep()

    def _sweep(self) -> None:
        """Remove the temp files killed writers left (a half-sent model file is big)."""
        cutoff = time.time() - STALE_TEMP
        for tmp in self.tmp.glob("tmp-*"):
            with contextlib.suppress(OSError):
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"{key} is not on the remote {self.root}") from None

    @contextlib.contextmanager
    def stream(self, key: str, start: int = 0, end: int | None = None) -> Iterator[BinaryIO]:
        try:
            f = self._path(key).open("rb")
        except FileNotFoundError:
            raise NotFound(f"{key} is not on the remote {self.root}") from None
        with f:
            f.seek(start)
            yield f  # a file: nothing to stop at ``end``, read no further by the caller

    def get_file(self, key: str, dest: Path, size: int) -> int:
        """Appended to what ``dest`` holds (a copy that stopped), a MiB at a time."""
        start = dest.stat().st_size if dest.exists() else 0
        if start > size:
            start = 0
        try:
            with self._path(key).open("rb") as src, dest.open("ab" if start else "wb") as out:
                src.seek(start)
                while chunk := src.read(1 << 20):
                    out.write(chunk)
                    checkpoint("remote.chunk")
                return out.tell() - start
        except FileNotFoundError:
            raise NotFound(f"{key} is not on the remote {self.root}") from None

    @contextlib.contextmanager
    def _temp(self) -> Iterator[tuple[int, str]]:
        fd, name = tempfile.mkstemp(prefix="tmp-", dir=self.tmp)
        try:
            yield fd, name
        finally:
            with contextlib.suppress(OSError):
                os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)

    def _publish(self, tmp_name: str, dest: Path) -> bool:
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(tmp_name, dest)
        except FileExistsError:
            return False
        fsync_dir(dest.parent)
        return True

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """A write the share refuses (full, read-only, not ours) as one clear error; the
        temp file is gone, so nothing half-written is left under a real name."""
        try:
            yield
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise RemoteError(f"the remote folder {self.root} is full ({exc.strerror})",
                                  hint="free space on the share, then push again: what was "
                                       "sent is kept there and not sent again") from None
            if exc.errno in (errno.EACCES, errno.EROFS, errno.EPERM):
                raise RemoteError(f"cannot write to the remote {self.root} ({exc.strerror})",
                                  hint="check the share's permissions") from None
            raise

    def put_if_absent(self, key: str, data: bytes) -> bool:
        dest = self._path(key)
        if dest.exists():
            return False
        with self._writing(), self._temp() as (fd, name):
            with os.fdopen(os.dup(fd), "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            return self._publish(name, dest)

    def put_file(self, key: str, src: Path) -> int:
        dest = self._path(key)
        if dest.exists():
            return 0
        with (self._writing(), self._temp() as (fd, name), src.open("rb") as f,
              os.fdopen(os.dup(fd), "wb") as out):
            shutil.copyfileobj(f, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
            self._publish(name, dest)
        return src.stat().st_size

    def read_versioned(self, key: str) -> tuple[bytes, Version] | None:
        try:
            data = self._path(key).read_bytes()
        except FileNotFoundError:
            return None
        return data, Version(hash_bytes(data))

    def delete(self, key: str) -> None:
        with self._writing():
            self._path(key).unlink(missing_ok=True)

    def unfinished(self) -> list[Unfinished]:
        """The temp files of writes under way or killed (opening the remote removes
        those idle for ``STALE_TEMP``)."""
        now = time.time()
        found = []
        for tmp in self.tmp.glob("tmp-*"):
            with contextlib.suppress(FileNotFoundError):
                st = tmp.stat()
                found.append(Unfinished("", tmp.name, st.st_size, max(0.0, now - st.st_mtime)))
        return found

    def abort(self, upload: Unfinished) -> None:
        with self._writing():
            (self.tmp / Path(upload.upload).name).unlink(missing_ok=True)

    @contextlib.contextmanager
    def _locked(self, dest: Path) -> Iterator[None]:
        lock = dest.with_name(dest.name + ".lock")
        lock.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                break
            except FileExistsError:
                with contextlib.suppress(FileNotFoundError):
                    if time.time() - lock.stat().st_mtime > STALE_LOCK:
                        lock.unlink()  # a crashed writer's: take it over
                        continue
                if time.monotonic() > deadline:
                    raise RemoteError(f"the remote lock {lock} is held",
                                      hint="another push is running; wait, or delete the lock "
                                           "file if its writer is gone") from None
                time.sleep(0.01)
            except OSError as exc:
                if exc.errno in (errno.EACCES, errno.EROFS):
                    raise RemoteError(f"cannot write to the remote {self.root} ({exc.strerror})",
                                      hint="check the share's permissions") from None
                raise
        try:
            os.write(fd, f"{os.getpid()}\n".encode())
            os.close(fd)
            yield
        finally:
            lock.unlink(missing_ok=True)

    def replace(self, key: str, data: bytes, expected: Version | None) -> Version:
        dest = self._path(key)
        with self._writing(), self._locked(dest):
            current = self.read_versioned(key)
            now = current[1] if current else None
            if now != expected:
                raise CasConflict(f"{key} on the remote changed meanwhile")
            with atomic_writer(dest, tmp_dir=self.tmp) as f:
                f.write(data)
        return Version(hash_bytes(data))
