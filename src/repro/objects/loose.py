"""Loose objects: one file each under ``objects/<2 hex>/<62 hex>``, read-only.

``TempObject`` is a temp file in the store's tmp folder that becomes a loose
object: at once (synced, renamed, its folder synced) or at the end of a batch.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from repro.objects.atomic import fsync_dir, make_temp
from repro.objects.batching import READ_ONLY, Batch
from repro.objects.faults import checkpoint
from repro.objects.ids import ObjectId, check_id


def make_folder(dest: Path) -> list[Path]:
    """Make the fan-out folder of an object to be placed at ``dest``; the folders
    to sync once it is there: that folder, and ``objects/`` too when the folder is
    new (it is then an entry there, lost in a power cut unless synced)."""
    if dest.parent.is_dir():
        return [dest.parent]
    dest.parent.mkdir(parents=True, exist_ok=True)
    return [dest.parent, dest.parent.parent]


def fsync_folders(folders: list[Path]) -> None:
    """Sync ``make_folder``'s folders, the deepest first."""
    for folder in folders:
        fsync_dir(folder)


class TempObject:
    """A temp file in the store's tmp folder that becomes an object on commit."""

    def __init__(self, tmp_dir: Path):
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = make_temp(tmp_dir)
        self.name = name
        self.file: BinaryIO = os.fdopen(fd, "wb")
        self.done = False

    def __enter__(self) -> TempObject:
        return self

    def defer(self, oid: str, batch: Batch, group: int) -> None:
        """Leave the temp file for a batch to sync and rename later."""
        self.file.flush()
        self.file.close()
        os.chmod(self.name, READ_ONLY)
        if not batch.add_loose(oid, self.name, group):
            os.unlink(self.name)
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
            folders = make_folder(dest)
            os.chmod(self.name, READ_ONLY)
            checkpoint("object.synced")
            os.replace(self.name, dest)
            checkpoint("object.replaced")
            fsync_folders(folders)
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


def same_device(a: Path, b: Path) -> bool:
    try:
        return os.stat(a).st_dev == os.stat(b).st_dev
    except OSError:
        return False


def _fan_folders(objects_dir: Path) -> list[str]:
    """The names of the fan-out folders (two hex digits) under ``objects_dir``, sorted."""
    if not objects_dir.is_dir():
        return []
    return sorted(fan for fan in os.listdir(objects_dir) if len(fan) == 2)


def loose_ids(objects_dir: Path) -> Iterator[ObjectId]:
    """The ids of the loose objects under ``objects_dir``, in id order."""
    for fan in _fan_folders(objects_dir):
        for rest in sorted(os.listdir(objects_dir / fan)):
            try:
                yield check_id(fan + rest)
            except ValueError:
                continue


def loose_sizes(objects_dir: Path) -> Iterator[tuple[ObjectId, int]]:
    """``(id, size)`` of the loose objects, in id order: one ``scandir`` a
    folder and a ``stat`` an entry, no path built or checked twice."""
    for fan in _fan_folders(objects_dir):
        with os.scandir(objects_dir / fan) as entries:
            found = sorted((fan + e.name, e) for e in entries)
        for name, entry in found:
            try:
                found_id, size = check_id(name), entry.stat().st_size
            except (ValueError, OSError):  # not an object, or gone or unreadable since listed
                continue
            yield found_id, size


def verify_readonly(objects_dir: Path, oid: str) -> str | None:
    """A problem string when a loose object is writable (a hint of in-place edits).
    Packed objects: their pack files are written read-only and never changed."""
    try:
        mode = (objects_dir / oid[:2] / oid[2:]).stat().st_mode
    except FileNotFoundError:
        return None
    if mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        return f"object {oid} is writable (objects must be read-only)"
    return None
