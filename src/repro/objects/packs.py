"""Packs: many small objects in one file, as git packs its loose objects.

A batch of captures makes about five small objects an image (output, two
metadata blobs, record, thumbnail). As files, each costs a create that waits
for the filesystem's journal (0.2-1.8 ms on this project's disk), where
appending the same bytes to an open file costs 0.008 ms. So a batch's small
objects are appended to one pack, made durable with one fsync, and put in
place with one rename.

A pack ``objects/pack/pack-<32 hex>.pack`` is written once and never changed::

    header   b"REPROPK1"
    entries  per object: its 32-byte id, its length (8 bytes, big-endian), its bytes
    table    per object, sorted by id: id (32), offset of its bytes (8), length (8)
    trailer  count (8), table offset (8), BLAKE3 of the table (32), b"REPROEND"

The table is what readers search (a binary search in a memory map); its hash
in the trailer tells a damaged table from a whole one, and every object is
checked by its own id like a loose one. The entries repeat each id before its
bytes: a pack whose table is damaged can still be read entry by entry
(``salvage``). The name is derived from the table hash, so two packs of the
same objects have one name.

Crash safety: a pack is written in the store's tmp folder, synced, then renamed
into ``objects/pack`` (whose folder is then synced): it is either whole under
its final name or not there at all, and readers only ever see whole packs.
A pack is removed only after the pack that replaces it (``rewrite``: gc,
repair) is durable in place; in between, objects are in both, which is harmless.
"""

from __future__ import annotations

import bisect
import contextlib
import heapq
import mmap
import os
import time
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from repro.objects import hashing
from repro.objects.atomic import fsync_dir, make_temp
from repro.objects.faults import checkpoint
from repro.objects.ids import ObjectId

MAGIC = b"REPROPK1"
END = b"REPROEND"
ENTRY = 32 + 8 + 8
TRAILER = 8 + 8 + 32 + len(END)
SUFFIX = ".pack"


class PackDamaged(Exception):
    """A pack whose header, trailer or table is not what it should be."""


@dataclass(frozen=True)
class Located:
    """Where a packed object's bytes are."""

    pack: Pack
    offset: int
    length: int

    def read(self) -> bytes:
        return self.pack.read(self.offset, self.length)


class _Ids:
    """The pack table's ids as a sorted sequence of 32-byte strings (for ``bisect``)."""

    def __init__(self, view: mmap.mmap, start: int, count: int):
        self.view, self.start, self.count = view, start, count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> bytes:
        at = self.start + i * ENTRY
        return self.view[at:at + 32]


class Pack:
    """One pack file, mapped read-only; its table searched in place."""

    def __init__(self, path: Path):
        self.path = path
        with open(path, "rb") as f:
            self.stat = os.fstat(f.fileno())
            if self.stat.st_size < len(MAGIC) + TRAILER:
                raise PackDamaged("shorter than a header and a trailer")
            self.view = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        size = self.stat.st_size
        if self.view[:len(MAGIC)] != MAGIC:
            raise PackDamaged("not a pack (bad header)")
        trailer = self.view[size - TRAILER:]
        if trailer[-len(END):] != END:
            raise PackDamaged("no trailer (cut short)")
        count = int.from_bytes(trailer[:8], "big")
        table = int.from_bytes(trailer[8:16], "big")
        if table < len(MAGIC) or table + count * ENTRY != size - TRAILER:
            raise PackDamaged("its table does not fit in the file")
        if hashing.hash_bytes(self.view[table:size - TRAILER]) != trailer[16:48].hex():
            raise PackDamaged("its table does not match its checksum")
        self.count = count
        self.table = table
        self.ids = _Ids(self.view, table, count)

    def locate(self, oid: str) -> Located | None:
        raw = bytes.fromhex(oid)
        i = bisect.bisect_left(self.ids, raw)
        if i == self.count or self.ids[i] != raw:
            return None
        at = self.table + i * ENTRY + 32
        offset = int.from_bytes(self.view[at:at + 8], "big")
        length = int.from_bytes(self.view[at + 8:at + 16], "big")
        return Located(self, offset, length)

    def read(self, offset: int, length: int) -> bytes:
        if offset + length > self.table:
            raise PackDamaged("an entry points past the objects")
        return self.view[offset:offset + length]

    def __iter__(self) -> Iterator[ObjectId]:
        for i in range(self.count):
            yield ObjectId(self.ids[i].hex())

    def close(self) -> None:
        with contextlib.suppress(BufferError):
            self.view.close()


class PackSet:
    """The packs of a store's ``objects/pack`` folder, re-listed when it changes."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.packs: dict[str, Pack] = {}
        #: Pack files that could not be read as packs, with why.
        self.damaged: dict[str, str] = {}
        self._seen: tuple[int, int] | None = None

    def refresh(self) -> None:
        """Read the folder again if it changed since last time (new or removed packs)."""
        try:
            st = os.stat(self.folder)
        except FileNotFoundError:
            self._seen = None
            self._forget(set())
            self.damaged.clear()
            return
        seen = (st.st_mtime_ns, st.st_ino)
        # A folder's mtime ticks coarsely (a few ms): one changed within the last
        # second may have changed again since it was listed, so it is listed again.
        if seen == self._seen and time.time() - st.st_mtime > 1.0:
            return
        self._seen = seen
        names = {n for n in os.listdir(self.folder) if n.endswith(SUFFIX)}
        self._forget(names)
        self.damaged.clear()  # read again: a damaged pack may have been replaced
        for name in sorted(names - self.packs.keys()):
            try:
                self.packs[name] = Pack(self.folder / name)
            except PackDamaged as exc:
                self.damaged[name] = str(exc)
            except FileNotFoundError:
                continue  # merged into another meanwhile (``consolidate``)
            except OSError as exc:
                self.damaged[name] = f"unreadable ({exc.strerror or exc})"

    def _forget(self, names: set[str]) -> None:
        for gone in [n for n in self.packs if n not in names]:
            self.packs.pop(gone).close()

    def locate(self, oid: str) -> Located | None:
        for pack in self.packs.values():
            found = pack.locate(oid)
            if found is not None:
                return found
        return None

    def find(self, oid: str) -> Located | None:
        """Where ``oid`` is packed; the folder is re-read once on a miss when it changed."""
        found = self.locate(oid)
        if found is None:
            self.refresh()
            found = self.locate(oid)
        return found

    def ids(self) -> Iterator[ObjectId]:
        """Every packed id, in id order, once each."""
        self.refresh()
        last = None
        for oid in heapq.merge(*self.packs.values()):
            if oid != last:
                yield oid
                last = oid


    def consolidate(self, tmp_dir: Path, most: int) -> int:
        """Keep at most ``most`` packs: when there are more, the smaller half is
        merged into one (each lookup searches every pack; merging only the small
        ones keeps the bytes rewritten about proportional to those added). The
        merged pack is durable in place before the packs it replaces are removed.
        Returns how many packs were merged."""
        self.refresh()
        if len(self.packs) <= most:
            return 0
        by_size = sorted(self.packs.values(), key=lambda p: (p.stat.st_size, p.path.name))
        small = by_size[:max(2, len(by_size) - most // 2)]

        def items() -> Iterator[tuple[str, bytes]]:
            last = None
            for oid in heapq.merge(*small):
                if oid != last:
                    found = next(f for p in small if (f := p.locate(oid)) is not None)
                    yield oid, found.read()
                    last = oid

        name = write_pack(items(), tmp_dir, self.folder)
        for pack in small:
            if pack.path.name != name:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(pack.path)
                checkpoint("pack.removed")
        fsync_dir(self.folder)
        self.refresh()
        return len(small)


class PackWriter:
    """A pack being written in the tmp folder: objects appended, then sealed."""

    def __init__(self, tmp_dir: Path):
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, self.name = make_temp(tmp_dir)
        self.file = os.fdopen(fd, "wb")
        self.file.write(MAGIC)
        self.offset = len(MAGIC)
        self.entries: dict[str, tuple[int, int]] = {}

    def add(self, oid: str, data: bytes) -> None:
        if oid in self.entries:
            return
        self.file.write(bytes.fromhex(oid) + len(data).to_bytes(8, "big"))
        self.file.write(data)
        self.entries[oid] = (self.offset + 40, len(data))
        self.offset += 40 + len(data)

    def read(self, oid: str) -> bytes:
        """An object appended before the pack is sealed."""
        offset, length = self.entries[oid]
        self.file.flush()
        with open(self.name, "rb") as f:
            f.seek(offset)
            return f.read(length)

    def seal(self) -> str:
        """Write the table and trailer; the pack's file name. Not synced yet."""
        table = b"".join(bytes.fromhex(oid) + offset.to_bytes(8, "big") + length.to_bytes(8, "big")
                         for oid, (offset, length) in sorted(self.entries.items()))
        digest = hashing.hash_bytes(table)
        self.file.write(table)
        self.file.write(len(self.entries).to_bytes(8, "big") + self.offset.to_bytes(8, "big")
                        + bytes.fromhex(digest) + END)
        self.file.close()
        os.chmod(self.name, 0o444)
        return f"pack-{digest[:32]}{SUFFIX}"

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.name)


def place(tmp_name: str, folder: Path, name: str) -> None:
    """Rename a sealed, synced pack into ``folder`` and sync the folder."""
    created = not folder.is_dir()
    folder.mkdir(parents=True, exist_ok=True)
    if created:
        fsync_dir(folder.parent)
    os.replace(tmp_name, folder / name)
    checkpoint("pack.placed")
    fsync_dir(folder)


def write_pack(items: Iterable[tuple[str, bytes]], tmp_dir: Path, folder: Path) -> str | None:
    """A new durable pack of ``items`` in ``folder``; its name (None when empty)."""
    writer = PackWriter(tmp_dir)
    try:
        for oid, data in items:
            writer.add(oid, data)
        if not writer.entries:
            writer.discard()
            return None
        name = writer.seal()
        fd = os.open(writer.name, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        checkpoint("pack.synced")
    except BaseException:
        writer.discard()
        raise
    place(writer.name, folder, name)
    return name


def rewrite(pack: Pack, drop: Collection[str], tmp_dir: Path) -> int:
    """Replace a pack by one without the objects ``drop`` names; how many were
    dropped. The new pack is durable in place before the old one is removed."""
    kept = [oid for oid in pack if oid not in drop]
    dropped = pack.count - len(kept)
    if not dropped:
        return 0
    folder = pack.path.parent

    def items() -> Iterator[tuple[str, bytes]]:
        for oid in kept:
            found = pack.locate(oid)
            assert found is not None
            yield oid, found.read()

    name = write_pack(items(), tmp_dir, folder)
    if name != pack.path.name:
        os.unlink(pack.path)
        checkpoint("pack.removed")
        fsync_dir(folder)
    return dropped


def salvage(path: Path) -> Iterator[tuple[str, bytes]]:
    """The objects of a damaged pack that can still be read entry by entry and
    match their ids (its table is not trusted)."""
    with open(path, "rb") as f:
        data = f.read()
    at = len(MAGIC) if data[:len(MAGIC)] == MAGIC else 0
    while at + 40 <= len(data):
        oid = data[at:at + 32].hex()
        length = int.from_bytes(data[at + 32:at + 40], "big")
        body = data[at + 40:at + 40 + length]
        if len(body) != length or hashing.hash_bytes(body) != oid:
            return
        yield oid, body
        at += 40 + length
