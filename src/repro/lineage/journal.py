"""The index journal: ids of records about to be indexed.

A record is written as an object first and indexed after; a crash between
the two would leave a record the index does not know. So the writer appends
the record's id here (durably) *before* putting the record object in place,
and clears the journal once the index has committed. The next writer replays
what is left (``Repository.lock``): cheap (one small file), unlike scanning
every object for records the index lacks.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

from repro.objects.ids import ObjectId, check_id

#: A journal longer than this is not ours (or damaged): read only its head.
MAX_BYTES = 64 * 1024 * 1024


class Journal:
    """An append-only file of record ids, one a line."""

    def __init__(self, path: Path):
        self.path = path

    def append(self, record_ids: Iterable[str]) -> bool:
        """Note ids before their record objects are put in place; whether there were
        any. The caller makes ``path`` durable before those records are in place:
        ``add`` in its batch's one sync of its files (``ObjectStore.sync_with_batch``),
        not in a sync of its own before it."""
        line = "".join(check_id(rid) + "\n" for rid in record_ids).encode()
        if not line:
            return False
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
        return True

    def pending(self) -> list[ObjectId]:
        """Ids noted and not yet cleared (lines that are not ids are ignored)."""
        try:
            with open(self.path, "rb") as f:
                data = f.read(MAX_BYTES)
        except FileNotFoundError:
            return []
        ids: list[ObjectId] = []
        for raw in data.split(b"\n"):
            try:
                oid = check_id(raw.decode("ascii").strip())
            except (UnicodeDecodeError, ValueError):
                continue  # a torn last line from a crash mid-append
            if oid not in ids:
                ids.append(oid)
        return ids

    def clear(self) -> None:
        """Everything noted is indexed."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
