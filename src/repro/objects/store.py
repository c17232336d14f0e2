"""The content-addressed object store.

Objects are immutable raw bytes named by the BLAKE3 of those bytes and kept
under ``objects/<2 hex>/<62 hex>``, read-only. The store never interprets
what it keeps. Ids leave the store spelled ``blake3:<hex>``; inside records
and the index they are bare hex (see ``repro.objects.ids``).

Store modes say how a file's bytes get into the store:

- ``copy``: a full copy, hashed while it is copied (one read pass).
- ``reflink``: a copy-on-write clone where the filesystem supports it
  (btrfs, XFS, bcachefs); falls back to ``copy``.
- ``hardlink``: the object *is* the user's file (same inode), made read-only.
  No second copy; an in-place edit of the file would also change the object,
  which ``check()`` (and so ``verify``/``fsck``) detects by re-hashing.
- ``reference``: hashed only; nothing is stored.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from repro.errors import ChecksumMismatch, InputError, NotFound
from repro.objects import copying, hashing
from repro.objects.atomic import atomic_writer, fsync_dir, make_temp, new_file_mode
from repro.objects.background import MAX_BYTES, BackgroundWriter
from repro.objects.faults import checkpoint
from repro.objects.ids import ObjectId, check_id
from repro.objects.syncing import Syncer, fsync_file

READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


class ObjectStore:
    """Loose objects in a folder; behaves like a read-only mapping of ids.

    Inside ``with store.batch():`` new objects are written to temp files
    without an fsync each; when the batch ends they are all made durable at
    once (an fsync each, or one ``syncfs`` for a large batch), then renamed
    into place group by group, the folders of each group synced before the
    next is renamed (records go in a later group than the objects they name). Thousands of small objects cost a few syncs instead of two fsyncs
    each, with the same guarantee: no object under its final name is ever
    partial, and no record is in place before the objects it names.
    """

    def __init__(self, objects_dir: str | os.PathLike[str], tmp_dir: str | os.PathLike[str]):
        self.objects_dir = Path(objects_dir)
        self.tmp_dir = Path(tmp_dir)
        self._batch: dict[str, tuple[str, int]] | None = None
        self._writer: BackgroundWriter | None = None
        self._background = False
        self._syncer = Syncer()

    # -- mapping-like reading -------------------------------------------------

    def path(self, oid: str) -> Path:
        """Where an object lives. Refuses anything that is not 64 lower-case hex."""
        oid = check_id(oid)
        return self.objects_dir / oid[:2] / oid[2:]

    def __contains__(self, oid: object) -> bool:
        if not isinstance(oid, str):
            return False
        if self._batch is not None and oid in self._batch:
            return True
        try:
            return self.path(oid).is_file()
        except ValueError:
            return False

    def __iter__(self) -> Iterator[ObjectId]:
        if not self.objects_dir.is_dir():
            return
        for fan in sorted(os.listdir(self.objects_dir)):
            if len(fan) != 2:
                continue
            for rest in sorted(os.listdir(self.objects_dir / fan)):
                oid = fan + rest
                try:
                    yield check_id(oid)
                except ValueError:
                    continue

    def size(self, oid: str) -> int:
        try:
            return self.path(oid).stat().st_size
        except FileNotFoundError:
            raise NotFound(f"object {oid} is not in the store") from None

    def open(self, oid: str) -> BinaryIO:
        if self._batch is not None and oid in self._batch:
            if self._writer is not None:
                self._writer.wait()  # its temp file may still be queued
            return open(self._batch[oid][0], "rb")
        try:
            return open(self.path(oid), "rb")
        except FileNotFoundError:
            raise NotFound(f"object {oid} is not in the store") from None

    def read_bytes(self, oid: str, *, verify: bool = True) -> bytes:
        """A small object's bytes (records, metadata blobs), checked against its id."""
        with self.open(oid) as f:
            data = f.read()
        if verify:
            got = hashing.hash_bytes(data)
            if got != oid:
                raise ChecksumMismatch(f"object {oid}", oid, got)
        return data

    def check(self, oid: str, progress: hashing.Progress | None = None) -> None:
        """Re-hash an object; raise ``ChecksumMismatch`` when its bytes changed."""
        try:
            got = hashing.hash_file(self.path(oid), progress)
        except FileNotFoundError:
            raise NotFound(f"object {oid} is not in the store") from None
        if got != oid:
            raise ChecksumMismatch(f"object {oid}", oid, got)

    # -- writing --------------------------------------------------------------

    def put_bytes(self, data: bytes, *, group: int = 0, known: str | None = None) -> ObjectId:
        """Store bytes. ``group`` orders durability inside a batch (records: 1);
        ``known`` is their BLAKE3 when the caller has just computed it."""
        oid = check_id(known) if known is not None else ObjectId(hashing.hash_bytes(data))
        if oid in self:
            return oid
        if self._batch is not None and self._background and len(data) <= MAX_BYTES:
            if self._writer is None:  # started by the first object that needs it
                self.tmp_dir.mkdir(parents=True, exist_ok=True)
                self._writer = BackgroundWriter()
            self._batch[oid] = (self._writer.write(self.tmp_dir, data), group)
            return oid
        with _TempObject(self.tmp_dir) as tmp:
            tmp.file.write(data)
            self._keep(tmp, oid, group)
        return oid

    def _keep(self, tmp: _TempObject, oid: str, group: int) -> None:
        """Make a written temp file object ``oid``: now, or at the end of the batch."""
        if self._batch is not None:
            tmp.defer(oid, self._batch, group)
        else:
            tmp.commit(self.path(oid))

    @contextlib.contextmanager
    def batch(self, *, background: bool = False) -> Iterator[None]:
        """Defer durability of new objects to one sync at the end (see the class doc);
        ``background``: small objects' temp files are written by another thread."""
        if self._batch is not None:
            yield
            return
        self._batch = {}
        self._background = background
        try:
            yield
            if self._writer is not None:
                self._writer.wait()
            self._commit_batch(self._batch)
        except BaseException:
            if self._writer is not None:
                self._writer.close()  # nothing is being written while the temps go
            for tmp, _group in self._batch.values():
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            raise
        finally:
            if self._writer is not None:
                self._writer.close()
            self._batch = self._writer = None
            self._background = False

    def _commit_batch(self, pending: dict[str, tuple[str, int]]) -> None:
        if not pending:
            return
        # Every temp file (objects and records alike) is made durable at once: the
        # one sync of the batch's bytes. Then each group is renamed into place and
        # its folders synced before the next group is renamed.
        whole = self._syncer.sync_each([tmp for tmp, _ in pending.values()], fsync_file,
                                       self.tmp_dir)
        checkpoint("batch.synced")
        for group in sorted({g for _, g in pending.values()}):
            folders = self._rename_group(
                [(oid, tmp) for oid, (tmp, g) in pending.items() if g == group])
            deepest_first = sorted(folders, key=lambda p: len(p.parts), reverse=True)
            if not (whole and self._syncer.syncfs(self.objects_dir)):
                self._syncer.sync_each(deepest_first, fsync_dir, self.objects_dir)

    def _rename_group(self, items: list[tuple[str, str]]) -> set[Path]:
        """Put synced temp files in place as objects; the folders whose entries changed."""
        folders: set[Path] = set()
        for oid, tmp in items:
            dest = self.path(oid)
            if dest.exists():
                os.unlink(tmp)
                continue
            if not dest.parent.is_dir():
                dest.parent.mkdir(parents=True, exist_ok=True)
                folders.add(dest.parent.parent)
            os.replace(tmp, dest)
            folders.add(dest.parent)
            checkpoint("batch.renamed")
        return folders

    def put_file(self, src: str | os.PathLike[str], *, mode: str = "copy",
                 progress: hashing.Progress | None = None,
                 known: str | None = None, tap: copying.Tap | None = None) -> ObjectId:
        """Store a file's bytes; return its id. The file is read once.

        ``known`` is the file's BLAKE3 when a trusted cache already has it:
        if that object is present nothing is read at all (nor hashed again
        before a hardlink). ``tap`` (copy and reflink modes) is fed every chunk
        of the one read, for other hashes of the same bytes.
        """
        if known is not None and (mode == "reference" or known in self):
            return check_id(known)
        if mode == "reference":
            return ObjectId(hashing.hash_file(src, progress))
        if mode == "hardlink":
            return self._put_hardlink(Path(src), progress, known)
        return self._put_copy(Path(src), progress, reflink=mode == "reflink", tap=tap)

    def _put_copy(self, src: Path, progress: hashing.Progress | None, *,
                  reflink: bool, tap: copying.Tap | None = None) -> ObjectId:
        with open(src, "rb", buffering=0) as fin:
            before = os.fstat(fin.fileno())
            size = before.st_size
            with _TempObject(self.tmp_dir) as tmp:
                oid = copying.clone_or_copy(fin, tmp.file, size, progress, reflink=reflink,
                                            tap=tap)
                # The bytes stored are the bytes hashed, but they are one version
                # of the file only if nothing wrote to it while it was read.
                after = os.fstat(fin.fileno())
                if (after.st_size, after.st_mtime_ns, after.st_ctime_ns) != (
                        before.st_size, before.st_mtime_ns, before.st_ctime_ns):
                    raise InputError(f"{src}: the file changed while it was stored",
                                     hint="run the command again once nothing writes to it")
                self._keep(tmp, oid, 0)
        return ObjectId(oid)

    def _put_hardlink(self, src: Path, progress: hashing.Progress | None,
                      known: str | None = None) -> ObjectId:
        self.objects_dir.mkdir(parents=True, exist_ok=True)
        if not _same_device(src, self.objects_dir):
            # No link can cross filesystems: copy at once rather than hash, fail, re-read.
            return self._put_copy(src, progress, reflink=True)
        # ``known`` comes from a hash the caller just made or trusts (the stat cache).
        oid = check_id(known) if known is not None else ObjectId(hashing.hash_file(src, progress))
        dest = self.path(oid)
        if dest.exists():
            return oid
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, dest)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                raise
            return self._put_copy(src, progress, reflink=True)
        checkpoint("object.linked")
        # The shared inode is made read-only: tools that write models in place
        # then fail loudly instead of silently changing the stored version.
        os.chmod(dest, READ_ONLY)
        fsync_dir(dest.parent)
        return oid

    def materialize(self, oid: str, dest: str | os.PathLike[str], *, mode: str = "copy",
                    progress: hashing.Progress | None = None) -> None:
        """Write object ``oid`` to ``dest`` atomically, verifying the bytes written.

        ``dest`` is replaced only when the copy hashed to ``oid``; otherwise
        ``ChecksumMismatch`` and ``dest`` is untouched.
        """
        src = self.path(oid)
        if not src.exists():
            raise NotFound(f"object {oid} is not in the store")
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        # Temp files go to the store's tmp folder (cleaned by the next writer
        # after a crash) rather than into the user's model folder, whenever
        # a rename from there can reach ``dest``.
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        if mode == "hardlink" and _same_device(src, dest.parent):
            self.check(oid, progress)
            tmp_name = self.tmp_dir / f"tmp-link-{oid[:16]}-{os.getpid()}"
            with contextlib.suppress(FileNotFoundError):
                tmp_name.unlink()
            try:
                os.link(src, tmp_name)
                checkpoint("materialize.linked")
                os.replace(tmp_name, dest)
            except OSError:
                with contextlib.suppress(FileNotFoundError):
                    tmp_name.unlink()
            else:
                fsync_dir(dest.parent)
                return
        same_fs = _same_device(self.tmp_dir, dest.parent)
        try:
            self._materialize_copy(oid, src, dest, mode, progress,
                                   self.tmp_dir if same_fs else None)
        except OSError as exc:
            # Same device yet no rename between them (bind mounts): use dest's folder.
            if not same_fs or exc.errno != errno.EXDEV:
                raise
            self._materialize_copy(oid, src, dest, mode, progress, None)

    def _materialize_copy(self, oid: str, src: Path, dest: Path, mode: str,
                          progress: hashing.Progress | None, tmp_dir: Path | None) -> None:
        with open(src, "rb", buffering=0) as fin:
            size = os.fstat(fin.fileno()).st_size
            # A checked-out file gets the mode ``cp`` would give it, not mkstemp's 0o600.
            with atomic_writer(dest, tmp_dir=tmp_dir, mode=new_file_mode()) as fout:
                got = copying.clone_or_copy(fin, fout, size, progress, reflink=mode == "reflink")
                if got != oid:
                    raise ChecksumMismatch(f"object {oid} (store damaged)", oid, got)


class _TempObject:
    """A temp file in the store's tmp folder that becomes an object on commit."""

    def __init__(self, tmp_dir: Path):
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = make_temp(tmp_dir)
        self.name = name
        self.file: BinaryIO = os.fdopen(fd, "wb")
        self.done = False

    def __enter__(self) -> _TempObject:
        return self

    def defer(self, oid: str, pending: dict[str, tuple[str, int]], group: int) -> None:
        """Leave the temp file for a batch to sync and rename later."""
        self.file.flush()
        self.file.close()
        os.chmod(self.name, READ_ONLY)
        if oid in pending:
            os.unlink(self.name)
        else:
            pending[oid] = (self.name, group)
        self.done = True

    def commit(self, dest: Path) -> None:
        self.file.flush()
        checkpoint("object.written")
        os.fsync(self.file.fileno())
        self.file.close()
        if dest.exists():
            # Same bytes already stored (ids are content): keep the existing one.
            os.unlink(self.name)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(self.name, READ_ONLY)
            checkpoint("object.synced")
            os.replace(self.name, dest)
            checkpoint("object.replaced")
            fsync_dir(dest.parent)
        self.done = True

    def __exit__(self, *exc: object) -> None:
        if not self.done:
            try:
                # Closing flushes; on a full disk that fails again: remove the temp anyway.
                with contextlib.suppress(OSError):
                    self.file.close()
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.name)


def _same_device(a: Path, b: Path) -> bool:
    try:
        return os.stat(a).st_dev == os.stat(b).st_dev
    except OSError:
        return False


def verify_readonly(store: ObjectStore, oid: str) -> str | None:
    """A problem string when an object is writable (a hint of in-place edits)."""
    try:
        mode = store.path(oid).stat().st_mode
    except FileNotFoundError:
        return None
    if mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        return f"object {oid} is writable (objects must be read-only)"
    return None


__all__ = ["ObjectStore", "verify_readonly"]
