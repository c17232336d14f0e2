"""Writing packs (``repro.objects.packs`` says what one is): a batch's pack,
a pack rewritten without some objects (``gc``, ``fsck --repair``), the smaller
packs of a store merged into one, and what a damaged pack still holds.

Every write follows one order: the new pack is written in the tmp folder,
synced, renamed into place and its folder synced; only then is a pack it
replaces removed. A crash leaves the old pack, or both (objects in two packs
are harmless), never neither.
"""

from __future__ import annotations

import contextlib
import heapq
import os
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path

from repro.objects import hashing
from repro.objects.atomic import fsync_dir, make_temp
from repro.objects.faults import checkpoint
from repro.objects.packs import END, MAGIC, SUFFIX, Pack, PackSet


class PackWriter:
    """A pack being written in the tmp folder: objects appended, then sealed."""

    def __init__(self, tmp_dir: Path):
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, self.name = make_temp(tmp_dir)
        self.file = os.fdopen(fd, "wb")
        self.file.write(MAGIC)
        self.offset = len(MAGIC)
        self.entries: dict[str, tuple[int, int]] = {}
        self.links: dict[str, str] = {}

    def add_link(self, source: str, target: str) -> None:
        """Note that ``target`` was made from ``source`` (see the module doc)."""
        self.links[source] = target

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
        table += b"".join(bytes.fromhex(src) + bytes.fromhex(dst)
                          for src, dst in sorted(self.links.items()))
        digest = hashing.hash_bytes(table)
        self.file.write(table)
        self.file.write(len(self.entries).to_bytes(8, "big") + self.offset.to_bytes(8, "big")
                        + len(self.links).to_bytes(8, "big") + bytes.fromhex(digest) + END)
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


def write_pack(items: Iterable[tuple[str, bytes]], tmp_dir: Path, folder: Path,
               links: Iterable[tuple[str, str]] = ()) -> str | None:
    """A new durable pack of ``items`` (and ``links``) in ``folder``; its name
    (None when there is nothing to pack)."""
    writer = PackWriter(tmp_dir)
    try:
        for oid, data in items:
            writer.add(oid, data)
        for source, target in links:
            writer.add_link(source, target)
        if not writer.entries and not writer.links:
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
    dropped (and the links to them). The new pack is durable in place before the
    old one is removed."""
    kept = [oid for oid in pack if oid not in drop]
    dropped = pack.count - len(kept)
    if not dropped:
        return 0
    folder = pack.path.parent

    def items() -> Iterator[tuple[str, bytes]]:
        for oid in kept:
            found = pack.locate(bytes.fromhex(oid))
            assert found is not None
            yield oid, found.read()

    links = [(src, dst) for src, dst in pack.all_links() if dst not in drop]
    name = write_pack(items(), tmp_dir, folder, links)
    if name != pack.path.name:
        with contextlib.suppress(FileNotFoundError):  # merged away meanwhile
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


def consolidate(pack_set: PackSet, tmp_dir: Path, most: int) -> int:
    """Keep at most ``most`` packs: when there are more, the smaller half is
    merged into one (each lookup searches every pack; merging only the small
    ones keeps the bytes rewritten about proportional to those added). The
    merged pack is durable in place before the packs it replaces are removed.
    Returns how many packs were merged."""
    pack_set.refresh()
    if len(pack_set.packs) <= most:
        return 0
    by_size = sorted(pack_set.packs.values(), key=lambda p: (p.stat.st_size, p.path.name))
    small = by_size[:max(2, len(by_size) - most // 2)]

    def items() -> Iterator[tuple[str, bytes]]:
        last = None
        for oid in heapq.merge(*small):
            if oid != last:
                found = next(f for p in small if (f := p.locate(bytes.fromhex(oid))) is not None)
                yield oid, found.read()
                last = oid

    links = {src: dst for pack in small for src, dst in pack.all_links()}
    name = write_pack(items(), tmp_dir, pack_set.folder, links.items())
    for pack in small:
        if pack.path.name != name:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(pack.path)
            checkpoint("pack.removed")
    fsync_dir(pack_set.folder)
    pack_set.refresh()
    return len(small)
