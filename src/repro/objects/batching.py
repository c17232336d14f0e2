"""A batch of new objects made durable together (``ObjectStore.batch``).

Small objects (up to ``PACK_MAX_OBJECT`` bytes) are appended to one pack in
the tmp folder (``repro.objects.packs``); larger ones are written to temp files
of their own. When the batch ends:

1. every temp file and the pack are made durable at once (fsyncs side by side,
   or one ``syncfs`` for many files), with the index journal (``also_sync``);
2. the loose objects of group 0 (models, large outputs) are renamed into place,
   their folders synced, and those of models hardlinked meanwhile (``linked``);
3. the pack is renamed into ``objects/pack``, that folder synced: its objects
   and records appear together, after the loose objects they name;
4. the loose objects of later groups (records too large to pack) are renamed
   into place, their folders synced.

So no object is ever under its final name partially written, and no record is
in place before the objects it names. A batch opened with ``pack=False`` (an
``add`` of one image) writes its small objects as loose files instead: packs
stay few and large, which keeps lookups (one binary search per pack) cheap.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

from repro.objects import pack_writer, packs
from repro.objects.atomic import NEW_FILE, TMP_PREFIX, fsync_dir
from repro.objects.faults import checkpoint
from repro.objects.syncing import Syncer, fsync_file

#: Objects up to this size are packed. A file create costs 0.2-0.6 ms here, an
#: append of 20 KB 0.05 ms, of 200 KB 0.24 ms, of 1 MB 0.8 ms: past 1 MiB the
#: create is a shrinking part of an object's cost, while gc would copy a large
#: object again each time it rewrites its pack (``bench/bench_pack_formats.py``).
PACK_MAX_OBJECT = 1024 * 1024
#: A store with more packs than this merges its smaller ones after a batch: a
#: lookup that misses searches every pack (about 4 us each here, on top of the
#: 9 us ``stat`` of the loose file; ``bench/bench_pack_lookup.py``).
MOST_PACKS = 8
#: Mode of an object file.
READ_ONLY = 0o444

#: The loose path of an object id (``ObjectStore.path``).
PathOf = Callable[[str], Path]


class Batch:
    """The objects of one open batch: loose temp files and one pack being written."""

    def __init__(self, objects_dir: Path, tmp_dir: Path, syncer: Syncer,
                 pack_set: packs.PackSet, *, pack: bool):
        self.packing = pack
        self.objects_dir = objects_dir
        self.pack_set = pack_set
        self.tmp_dir = tmp_dir
        self.syncer = syncer
        #: loose temp files: object id -> (temp path, group)
        self.loose: dict[str, tuple[str, int]] = {}
        self.pack: pack_writer.PackWriter | None = None
        #: files outside the store synced with the batch's own (the index journal)
        self.also_sync: list[str] = []
        #: folders of objects hardlinked during the batch, synced with group 0's
        self.linked: set[Path] = set()

    def __contains__(self, oid: str) -> bool:
        return oid in self.loose or (self.pack is not None and oid in self.pack.entries)

    def _writer(self) -> pack_writer.PackWriter:
        if self.pack is None:
            self.pack = pack_writer.PackWriter(self.tmp_dir)
        return self.pack

    def add_small(self, oid: str, data: bytes, group: int) -> None:
        """Pack ``data`` (a packing batch) or write it to a loose temp file."""
        if self.packing:
            self._writer().add(oid, data)
            return
        tmp = os.path.join(self.tmp_dir, TMP_PREFIX + os.urandom(8).hex())
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        write_new_file(tmp, data)
        self.loose[oid] = (tmp, group)

    def add_link(self, source: str, target: str) -> None:
        """Keep in the pack that ``target`` was made from ``source`` (packing only)."""
        self._writer().add_link(source, target)

    def add_loose(self, oid: str, tmp: str, group: int) -> bool:
        """Take a written temp file as object ``oid``; False when the batch has it."""
        if oid in self:
            return False
        self.loose[oid] = (tmp, group)
        return True

    def read(self, oid: str) -> bytes | None:
        """A packed object of this batch, before the batch is over."""
        if self.pack is not None and oid in self.pack.entries:
            return self.pack.read(oid)
        return None

    def discard(self) -> None:
        """The batch failed: remove every temp file."""
        if self.pack is not None:
            self.pack.discard()
        for tmp, _group in self.loose.values():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def commit(self, path_of: PathOf) -> None:
        pack = self.pack
        pack_name = pack.seal() if pack is not None else None
        temps = [*self.also_sync, *(tmp for tmp, _ in self.loose.values())]
        if pack is not None:
            temps.append(pack.name)
        if not temps and not self.linked:
            return
        whole = self.syncer.sync_each(temps, fsync_file, self.tmp_dir)
        checkpoint("batch.synced")
        groups = sorted({g for _, g in self.loose.values()} | {0})
        for group in groups:
            self._rename_group(group, path_of, whole, self.linked if group == 0 else set())
            if group == 0 and pack is not None and pack_name is not None:
                pack_writer.place(pack.name, self.pack_set.folder, pack_name)
        self.pack = None
        if pack is not None:
            pack_writer.consolidate(self.pack_set, self.tmp_dir, MOST_PACKS)

    def _rename_group(self, group: int, path_of: PathOf, whole: bool, linked: set[Path]
                      ) -> None:
        """Put a group's synced temp files in place; sync their folders (and ``linked``)."""
        folders = set(linked)
        for oid, (tmp, g) in self.loose.items():
            if g != group:
                continue
            dest = path_of(oid)
            if dest.exists():
                os.unlink(tmp)
                continue
            if not dest.parent.is_dir():
                dest.parent.mkdir(parents=True, exist_ok=True)
                folders.add(dest.parent.parent)
            os.replace(tmp, dest)
            folders.add(dest.parent)
            checkpoint("batch.renamed")
        if not folders:
            return
        deepest_first = sorted(folders, key=lambda p: len(p.parts), reverse=True)
        if not (whole and self.syncer.syncfs(self.objects_dir)):
            self.syncer.sync_each(deepest_first, fsync_dir, self.objects_dir)


def write_new_file(name: str, data: bytes) -> None:
    """Create ``name`` (which must not exist) holding ``data``, read-only; on any
    error nothing is left under ``name``."""
    fd = os.open(name, os.O_WRONLY | NEW_FILE, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if hasattr(os, "fchmod"):
            os.fchmod(fd, READ_ONLY)
        else:  # Windows
            os.chmod(name, READ_ONLY)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise
    os.close(fd)
