"""The content-addressed object store.

Objects are immutable raw bytes named by the BLAKE3 of those bytes, kept
either loose, one read-only file each under ``objects/<2 hex>/<62 hex>``
(``repro.objects.loose``), or packed, many small ones in a pack file under
``objects/pack`` (``repro.objects.packs``; a batch's small objects, see
``repro.objects.batching``). Readers go through ``ObjectStore`` and never ask
where an object is. The store never interprets what it keeps. Ids leave the store spelled ``blake3:<hex>``; inside records
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
import heapq
import io
import os
from collections.abc import Iterable, Iterator
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO

from repro.errors import ChecksumMismatch, InputError, NotFound
from repro.objects import copying, hashing, loose, pack_writer, packs
from repro.objects.atomic import fsync_dir
from repro.objects.batching import MOST_PACKS, PACK_MAX_OBJECT, READ_ONLY, Batch, write_new_file
from repro.objects.faults import checkpoint
from repro.objects.ids import ObjectId, check_id, once
from repro.objects.loose import TempObject, fsync_folders, loose_ids, make_folder, same_device
from repro.objects.materialize import materialize
from repro.objects.syncing import Syncer


class ObjectStore:
    """Loose and packed objects; behaves like a read-only mapping of ids.

    Inside ``with store.batch():`` new objects are not made durable one by one:
    small ones are appended to one pack, large ones written to temp files, and
    when the batch ends they are all made durable at once and put in place in
    an order that keeps the store's guarantee (``repro.objects.batching``): no
    object under its final name is ever partial, and no record is in place
    before the objects it names.
    """

    def __init__(self, objects_dir: str | os.PathLike[str], tmp_dir: str | os.PathLike[str]):
        self.objects_dir = Path(objects_dir)
        self.tmp_dir = Path(tmp_dir)
        self._objects = str(self.objects_dir)
        self.packs = packs.PackSet(self.objects_dir / "pack")
        self._batch: Batch | None = None
        self._syncer = Syncer()

    # -- mapping-like reading -------------------------------------------------

    def path(self, oid: str) -> Path:
        """Where an object lives when it is loose (a packed one has no file of its
        own: read through ``open``/``read_bytes``). Refuses anything that is not
        64 lower-case hex."""
        oid = check_id(oid)
        return self.objects_dir / oid[:2] / oid[2:]

    def loose_path(self, oid: str) -> Path | None:
        """The file of a loose object; None when it is packed or absent."""
        path = self.path(oid)
        return path if path.is_file() else None

    @contextlib.contextmanager
    def as_file(self, oid: str) -> Iterator[Path]:
        """A file holding the object's bytes, for code that needs a path (a
        multipart upload, a checkout through ``openat``): a loose object's own
        file, or a packed one's bytes in a temp file removed afterwards."""
        own = self.loose_path(oid)
        if own is not None:
            yield own
            return
        data = self._packed_bytes(oid)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.tmp_dir / f"tmp-unpacked-{oid[:16]}-{os.urandom(4).hex()}"
        try:
            write_new_file(str(tmp), data)
            yield tmp
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def __contains__(self, oid: object) -> bool:
        if not isinstance(oid, str):
            return False
        if self._batch is not None and oid in self._batch:
            return True
        try:
            oid = check_id(oid)
        except ValueError:
            return False
        # Plain strings, not ``Path``: ``add`` asks this five times an image.
        if os.path.isfile(f"{self._objects}/{oid[:2]}/{oid[2:]}"):
            return True
        return self.packs.find(oid) is not None

    def __iter__(self) -> Iterator[ObjectId]:
        """Every object id, loose or packed, in id order, once each."""
        return once(heapq.merge(loose_ids(self.objects_dir), self.packs.ids()))

    def sizes(self) -> Iterator[tuple[ObjectId, int]]:
        """``(id, size)`` of every object, as ``__iter__`` lists them, with no lookup an id."""
        return once(heapq.merge(loose.loose_sizes(self.objects_dir), self.packs.sizes()),
                    key=itemgetter(0))

    def size(self, oid: str) -> int:
        try:
            return self.path(oid).stat().st_size
        except FileNotFoundError:
            pass
        found = self.packs.find(oid)
        if found is None:
            raise NotFound(f"object {oid} is not in the store")
        return found.length

    def open(self, oid: str) -> BinaryIO:
        if self._batch is not None and oid in self._batch:
            pending = self._batch.read(oid)
            if pending is not None:
                return io.BytesIO(pending)
            return open(self._batch.loose[oid][0], "rb")
        try:
            return open(self.path(oid), "rb")
        except FileNotFoundError:
            pass
        return io.BytesIO(self._packed_bytes(oid))

    def _packed_bytes(self, oid: str) -> bytes:
        found = self.packs.find(oid)
        if found is None:
            raise NotFound(f"object {oid} is not in the store")
        try:
            return found.read()
        except packs.PackDamaged as exc:
            raise OSError(errno.EIO, f"pack {found.pack.path.name}: {exc}") from None

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
            got = hashing.hash_bytes(self._packed_bytes(oid))
        if got != oid:
            raise ChecksumMismatch(f"object {oid}", oid, got)

    def age(self, oid: str) -> float:
        """When the object was last put in place (its file's, or its pack's,
        latest mtime or ctime): ``gc``'s grace period counts from it."""
        try:
            st = self.path(oid).stat()
        except FileNotFoundError:
            found = self.packs.find(oid)
            if found is None:
                raise NotFound(f"object {oid} is not in the store") from None
            st = found.pack.stat
        return max(st.st_mtime, st.st_ctime)

    def damaged_packs(self) -> dict[str, str]:
        """Pack files that cannot be read as packs: name -> why (``fsck``)."""
        self.packs.refresh()
        return dict(self.packs.damaged)

    # -- writing --------------------------------------------------------------

    @property
    def packing(self) -> bool:
        """Whether a batch is open that packs its small objects (and keeps links)."""
        return self._batch is not None and self._batch.packing

    def put_bytes(self, data: bytes, *, group: int = 0, known: str | None = None,
                  made_from: str | None = None) -> ObjectId:
        """Store bytes. ``group`` orders durability inside a batch (records: 1);
        ``known`` is their BLAKE3 when the caller has just computed it;
        ``made_from``, inside a packing batch, the object they were made from (an
        output, for its thumbnail): the pack keeps the link (``made_of``)."""
        oid = check_id(known) if known is not None else ObjectId(hashing.hash_bytes(data))
        if made_from is not None and self._batch is not None and self._batch.packing \
                and self.made_of(made_from) != oid:  # a link kept already is not repeated
            self._batch.add_link(check_id(made_from), oid)
        if oid in self:
            return oid
        if self._batch is not None and len(data) <= PACK_MAX_OBJECT:
            self._batch.add_small(oid, data, group)
            return oid
        with TempObject(self.tmp_dir) as tmp:
            tmp.file.write(data)
            self._keep(tmp, oid, group)
        return oid

    def put_many(self, items: Iterable[bytes | tuple[bytes, str]]) -> list[ObjectId]:
        """Store many objects at once (a pull, a clone): one durable batch, the
        small ones in one pack. Each item is bytes, or ``(bytes, their BLAKE3)``
        when the caller has already checked them."""
        ids = []
        with self.batch():
            for item in items:
                if isinstance(item, tuple):
                    ids.append(self.put_bytes(item[0], known=item[1]))
                else:
                    ids.append(self.put_bytes(item))
        return ids

    def _keep(self, tmp: TempObject, oid: str, group: int) -> None:
        """Make a written temp file object ``oid``: now, or at the end of the batch."""
        if self._batch is not None:
            tmp.defer(oid, self._batch, group)
        else:
            tmp.commit(self.path(oid))

    def made_of(self, source: str) -> ObjectId | None:
        """The object a pack links from ``source`` (``put_bytes(made_from=)``), if any."""
        return self.packs.link(check_id(source))

    def links(self) -> Iterator[tuple[ObjectId, ObjectId]]:
        """Every ``(source, made from it)`` link the packs keep."""
        return self.packs.all_links()

    def sync_with_batch(self, path: str) -> None:
        """Make ``path`` (the index journal) durable in the open batch's one sync."""
        assert self._batch is not None, "sync_with_batch needs an open batch"
        self._batch.also_sync.append(path)

    @contextlib.contextmanager
    def batch(self, *, pack: bool = True) -> Iterator[None]:
        """Defer durability of new objects to the end (see the class doc). With
        ``pack``, small objects go into one pack; without, into loose files."""
        if self._batch is not None:
            yield
            return
        self._batch = Batch(self.objects_dir, self.tmp_dir, self._syncer, self.packs,
                            pack=pack)
        try:
            yield
            self._batch.commit(self.path)
        except BaseException:
            self._batch.discard()
            raise
        finally:
            self._batch = None

    def merge_packs(self) -> int:
        """Merge the smaller packs if there are too many, as a batch does (``gc``)."""
        return pack_writer.consolidate(self.packs, self.tmp_dir, MOST_PACKS)

    def remove(self, oids: Iterable[str]) -> int:
        """Delete objects (``gc``, ``store drop``); how many were removed. Packed
        ones are dropped by rewriting their packs (``pack_writer.rewrite``: the new pack
        is durable before the old one goes)."""
        removed = 0
        by_pack: dict[Path, set[str]] = {}
        for oid in oids:
            try:
                self.path(oid).unlink()
            except FileNotFoundError:
                found = self.packs.find(oid)
                if found is not None:
                    by_pack.setdefault(found.pack.path, set()).add(oid)
                continue
            removed += 1
            checkpoint("gc.removed")
        for path, gone in by_pack.items():
            pack = self.packs.packs.get(path.name)
            if pack is not None:
                removed += pack_writer.rewrite(pack, gone, self.tmp_dir)
        self.packs.refresh()
        return removed

    def set_aside(self, oid: str, dest: Path) -> None:
        """Move a damaged object out of the store to ``dest`` (``fsck --repair``):
        a loose one is renamed; a packed one's bytes are written there and its
        pack rewritten without it."""
        try:
            os.replace(self.path(oid), dest)
            return
        except FileNotFoundError:
            pass
        found = self.packs.find(oid)
        if found is None:
            raise NotFound(f"object {oid} is not in the store")
        with open(dest, "xb") as f:
            f.write(found.read())
        pack_writer.rewrite(found.pack, {oid}, self.tmp_dir)
        self.packs.refresh()

    def salvage_pack(self, name: str, dest: Path) -> int:
        """Move a damaged pack out of the store to ``dest``, then keep in a new
        pack every object it still holds whole (read entry by entry, each checked
        by its id); how many were kept."""
        # Aside first: the new pack of the same objects may have the same name.
        # Nothing that could be read is lost meanwhile: ``dest`` keeps every byte.
        os.replace(self.packs.folder / name, dest)
        fsync_dir(self.packs.folder)
        kept = list(pack_writer.salvage(dest))
        pack_writer.write_pack(kept, self.tmp_dir, self.packs.folder)
        self.packs.refresh()
        return len(kept)

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
            with TempObject(self.tmp_dir) as tmp:
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
        if not same_device(src, self.objects_dir):
            # No link can cross filesystems: copy at once rather than hash, fail, re-read.
            return self._put_copy(src, progress, reflink=True)
        # ``known`` comes from a hash the caller just made or trusts (the stat cache).
        oid = check_id(known) if known is not None else ObjectId(hashing.hash_file(src, progress))
        dest = self.path(oid)
        if dest.exists():
            return oid
        folders = make_folder(dest)
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
        if self._batch is None:
            fsync_folders(folders)
        else:  # with the batch's objects, before any record is in place
            self._batch.linked.update(folders)
        return oid

    def materialize(self, oid: str, dest: str | os.PathLike[str], *, mode: str = "copy",
                    progress: hashing.Progress | None = None) -> None:
        """Write object ``oid`` to ``dest`` atomically, verifying the bytes written.

        ``dest`` is replaced only when the copy hashed to ``oid``; otherwise
        ``ChecksumMismatch`` and ``dest`` is untouched.
        """
        src = self.path(oid)
        # A packed object is read whole (packed ones are small); NotFound if absent.
        source = src if src.exists() else self._packed_bytes(oid)
        materialize(oid, source, Path(dest), self.tmp_dir, mode=mode, progress=progress)


__all__ = ["ObjectStore"]
