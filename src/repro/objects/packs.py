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
    links    per link, sorted by its first id: from (32), to (32)
    trailer  count (8), table offset (8), links (8), BLAKE3 of table and links (32),
             b"REPROEND"

The table is what readers search (a binary search in a memory map); its hash
in the trailer tells a damaged table from a whole one, and every object is
checked by its own id like a loose one. A link says which object was made from
which (an output's thumbnail: ``lineage.thumbnails``): derived, like the
thumbnail itself, and kept in the pack so that a batch writes no file for it.
The entries repeat each id before its bytes: a pack whose table is damaged can
still be read entry by entry (``pack_writer.salvage``). The name is derived
from the table hash, so two packs of the same objects have one name.

Crash safety: a pack is written in the store's tmp folder, synced, then renamed
into ``objects/pack`` (whose folder is then synced): it is either whole under
its final name or not there at all, and readers only ever see whole packs.
A pack is removed only after the pack that replaces it (``pack_writer``: gc,
repair) is durable in place; in between, objects are in both, which is harmless.
"""

from __future__ import annotations

import bisect
import contextlib
import heapq
import mmap
import os
import time
from collections.abc import Callable, Iterator
from operator import itemgetter
from pathlib import Path
from typing import TypeVar

from repro.objects import hashing
from repro.objects.ids import ObjectId, once
from repro.record.values import value_class

T = TypeVar("T")

MAGIC = b"REPROPK1"
END = b"REPROEND"
ENTRY = 32 + 8 + 8
LINK = 64
TRAILER = 8 + 8 + 8 + 32 + len(END)
SUFFIX = ".pack"


class PackDamaged(Exception):
    """A pack whose header, trailer or table is not what it should be."""


@value_class(frozen=True)
class Located:
    """Where a packed object's bytes are."""

    pack: Pack
    offset: int
    length: int

    def read(self) -> bytes:
        return self.pack.read(self.offset, self.length)


class _Ids:
    """The ids that begin a table's rows, as a sorted sequence of 32-byte strings
    (for ``bisect``)."""

    def __init__(self, view: mmap.mmap, start: int, count: int, row: int):
        self.view, self.start, self.count, self.row = view, start, count, row
        #: rows before the first id starting with each byte (made on first use)
        self._fan: list[int] | None = None

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> bytes:
        at = self.start + i * self.row
        return self.view[at:at + 32]

    def find(self, raw: bytes) -> int | None:
        """The row of ``raw``, or None: a binary search among the rows that start
        with its first byte (each step is a slice of the map made in Python, so
        fewer steps is most of the cost of a miss)."""
        if self._fan is None:
            self._fan = [bisect.bisect_left(self, bytes([b])) for b in range(256)]
            self._fan.append(self.count)
        lo, hi = self._fan[raw[0]], self._fan[raw[0] + 1]
        if lo == hi:
            return None
        i = bisect.bisect_left(self, raw, lo, hi)
        return i if i < hi and self[i] == raw else None


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
        links = int.from_bytes(trailer[16:24], "big")
        if table < len(MAGIC) or table + count * ENTRY + links * LINK != size - TRAILER:
            raise PackDamaged("its table does not fit in the file")
        if hashing.hash_bytes(self.view[table:size - TRAILER]) != trailer[24:56].hex():
            raise PackDamaged("its table does not match its checksum")
        self.count = count
        self.table = table
        self.ids = _Ids(self.view, table, count, ENTRY)
        self.links = _Ids(self.view, table + count * ENTRY, links, LINK)

    def locate(self, raw: bytes) -> Located | None:
        """Where the object of id ``raw`` (32 bytes) is in this pack, if it is."""
        i = self.ids.find(raw)
        if i is None:
            return None
        at = self.table + i * ENTRY + 32
        offset = int.from_bytes(self.view[at:at + 8], "big")
        length = int.from_bytes(self.view[at + 8:at + 16], "big")
        return Located(self, offset, length)

    def link(self, raw: bytes) -> ObjectId | None:
        """The object linked from ``raw`` (an output's id: its thumbnail), if any."""
        i = self.links.find(raw)
        if i is None:
            return None
        at = self.links.start + i * LINK + 32
        return ObjectId(self.view[at:at + 32].hex())

    def all_links(self) -> Iterator[tuple[ObjectId, ObjectId]]:
        for i in range(self.links.count):
            at = self.links.start + i * LINK
            yield ObjectId(self.view[at:at + 32].hex()), ObjectId(self.view[at + 32:at + 64].hex())

    def read(self, offset: int, length: int) -> bytes:
        if offset + length > self.table:
            raise PackDamaged("an entry points past the objects")
        return self.view[offset:offset + length]

    def __iter__(self) -> Iterator[ObjectId]:
        for i in range(self.count):
            yield ObjectId(self.ids[i].hex())

    def sizes(self) -> Iterator[tuple[ObjectId, int]]:
        """``(id, length)`` of each entry, read from the table in its id order."""
        view, table = self.view, self.table
        for i in range(self.count):
            at = table + i * ENTRY
            yield ObjectId(view[at:at + 32].hex()), int.from_bytes(view[at + 40:at + 48], "big")

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

    def refresh(self) -> bool:
        """Read the folder again if it changed since last time (new or removed
        packs); whether it was read."""
        try:
            st = os.stat(self.folder)
        except FileNotFoundError:
            changed = bool(self.packs or self.damaged)
            self._seen = None
            self._forget(set())
            self.damaged.clear()
            return changed
        seen = (st.st_mtime_ns, st.st_ino)
        # A folder's mtime ticks coarsely (a few ms): one changed within the last
        # second may have changed again since it was listed, so it is listed again.
        if seen == self._seen and time.time() - st.st_mtime > 1.0:
            return False
        self._seen = seen
        names = {n for n in os.listdir(self.folder) if n.endswith(SUFFIX)}
        if names == self.packs.keys() and not self.damaged:
            return False
        self._forget(names)
        self.damaged.clear()  # read again: a damaged pack may have been replaced
        for name in sorted(names - self.packs.keys()):
            try:
                self.packs[name] = Pack(self.folder / name)
            except PackDamaged as exc:
                self.damaged[name] = str(exc)
            except FileNotFoundError:
                continue  # merged into another meanwhile
            except OSError as exc:
                self.damaged[name] = f"unreadable ({exc.strerror or exc})"
        return True

    def _forget(self, names: set[str]) -> None:
        for gone in [n for n in self.packs if n not in names]:
            self.packs.pop(gone).close()

    def _search(self, key: str, ask: Callable[[Pack, bytes], T | None]) -> T | None:
        """The first answer of ``ask(pack, key as bytes)`` over the packs; on a miss
        the folder is read again, and searched again only if it changed."""
        raw = bytes.fromhex(key)
        for attempt in range(2):
            if attempt and not self.refresh():
                break
            for pack in self.packs.values():
                found = ask(pack, raw)
                if found is not None:
                    return found
        return None

    def find(self, oid: str) -> Located | None:
        """Where ``oid`` is packed."""
        return self._search(oid, Pack.locate)

    def link(self, source: str) -> ObjectId | None:
        """The object linked from ``source`` in any pack."""
        return self._search(source, Pack.link)

    def all_links(self) -> Iterator[tuple[ObjectId, ObjectId]]:
        """Every link of every pack: ``(from, to)``."""
        self.refresh()
        for pack in list(self.packs.values()):
            yield from pack.all_links()

    def ids(self) -> Iterator[ObjectId]:
        """Every packed id, in id order, once each."""
        self.refresh()
        return once(heapq.merge(*self.packs.values()))

    def sizes(self) -> Iterator[tuple[ObjectId, int]]:
        """``(id, length)`` of every packed object, in id order, once each."""
        self.refresh()
        return once(heapq.merge(*(p.sizes() for p in self.packs.values())), key=itemgetter(0))
