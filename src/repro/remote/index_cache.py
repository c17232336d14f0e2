"""The local copy of a remote's index: one SQLite file per remote
(``.repro/remotes/NAME/index.sqlite``), a cache that can be deleted at any time
and is rebuilt from the remote's segments. It is separate from the lineage index:
it says what the remote holds, not what this store holds.

The remote's index is a log: every push appends one segment, and HEAD says which
stretch of the log each segment covers (see ``repro.remote.index``). The cache
remembers how far it has applied that log (``through``) and the identity of the
log (``remote_id``, new whenever the log was rewritten other than by appending),
so a sync applies only the segments it has not seen: O(new), not O(remote).
Applying a segment twice, or out of order, gives the same rows (objects and
records only accumulate; a record sent with its models stays so), which is what
lets compaction merge segments freely.

Ids are kept as 32-byte BLOBs, half the size of their hex: at a million records
the cache is a few hundred MB, not a gigabyte.

Before this cache, each segment read was kept as a file of its own beside it
(``.repro/remotes/NAME/segments/<id>``), as large as the whole remote index;
opening the cache removes them.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from repro.objects.ids import is_id
from repro.remote.segment import Location, Segment

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS packs (n INTEGER PRIMARY KEY, name BLOB NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS objects (
    oid BLOB PRIMARY KEY, pack INTEGER, start INTEGER NOT NULL, size INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
    id BLOB PRIMARY KEY, models INTEGER NOT NULL, seen INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tags (name TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS thumbs (output BLOB PRIMARY KEY, thumb BLOB NOT NULL) WITHOUT ROWID;
"""
#: Bumped when the tables change: an older file is emptied and refilled.
#: 2: ``thumbs`` (the thumbnail of an output, as the segments list it).
CACHE_VERSION = "2"
_CHUNK = 500
#: Where the code before this cache kept a copy of each segment, beside the cache file.
OLD_SEGMENT_COPIES = "segments"


def _b(hex_id: str) -> bytes:
    return bytes.fromhex(hex_id)


def _remove_old_segment_copies(folder: Path) -> None:
    """Delete the segment copies the earlier code kept (files named by their id; anything
    else there is not the old cache's, and stays), then the folder once empty."""
    try:
        copies = [p for p in folder.iterdir() if is_id(p.name) and p.is_file()]
    except (FileNotFoundError, NotADirectoryError):
        return
    for copy in copies:
        copy.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        folder.rmdir()


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i:i + _CHUNK]


class IndexCache:
    """What one remote holds, as far as its log has been applied here."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        if self._meta("version") != CACHE_VERSION:
            self.reset("")
        _remove_old_segment_copies(path.parent / OLD_SEGMENT_COPIES)

    def close(self) -> None:
        self.db.close()

    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def _set_meta(self, key: str, value: str | int) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, str(value)))

    @property
    def remote_id(self) -> str:
        return self._meta("remote_id") or ""

    @property
    def through(self) -> int:
        """How many log positions (pushes) have been applied."""
        return int(self._meta("through") or 0)

    @property
    def pulled(self) -> int:
        """The ``through`` at which this store last pulled every record the remote had."""
        return int(self._meta("pulled") or 0)

    def mark_pulled(self, through: int) -> None:
        self._set_meta("pulled", through)

    def pushed_mark(self, *, models: bool) -> tuple[str | None, int]:
        """(numbering, number): every record of this store numbered up to ``number``
        in the lineage index's numbering ``numbering`` (its epoch) is on the remote,
        with its model versions when ``models``; (None, 0) before the first push. A
        push walks only the records numbered after it. It lives here, so that a
        remote whose log was replaced (this cache reset) is walked whole again."""
        mark = self._pushed()
        if not mark:
            return None, 0
        return str(mark["epoch"]), int(mark["models" if models else "any"])

    def mark_pushed(self, epoch: str, through: int, *, models: bool) -> None:
        """Every record numbered up to ``through`` is on the remote (with its model
        versions when ``models``)."""
        if not epoch:
            return
        mark = self._pushed()
        if mark.get("epoch") != epoch:
            mark = {"epoch": epoch, "models": 0, "any": 0}
        mark["any"] = max(int(mark["any"]), through)
        if models:
            mark["models"] = max(int(mark["models"]), through)
        self._set_meta("pushed", json.dumps(mark))

    def _pushed(self) -> dict[str, Any]:
        """The mark as kept (``epoch``, ``models``, ``any``); {} when there is none."""
        try:
            mark = json.loads(self._meta("pushed") or "{}")
            return {"epoch": str(mark["epoch"]), "models": int(mark["models"]),
                    "any": int(mark["any"])}
        except (ValueError, KeyError, TypeError):
            return {}

    def name_log(self, remote_id: str) -> None:
        self._set_meta("remote_id", remote_id)

    def reset(self, remote_id: str) -> None:
        """Forget everything: the remote's log is another one than the one applied."""
        with self.db:
            self.db.execute("BEGIN")
            for table in ("meta", "packs", "objects", "records", "tags", "thumbs"):
                self.db.execute(f"DELETE FROM {table}")
            self._set_meta("version", CACHE_VERSION)
            self._set_meta("remote_id", remote_id)
            self._set_meta("through", 0)

    def apply(self, segment: Segment, through: int) -> None:
        """Add one segment's rows, and say the log is applied up to ``through``, at once."""
        with self.db:
            self.db.execute("BEGIN")
            packs = {p for p, _, _ in segment.objects.values() if p}
            self.db.executemany("INSERT OR IGNORE INTO packs(name) VALUES (?)",
                                [(_b(p),) for p in packs])
            numbers = {p: self._pack_number(p) for p in packs}
            self.db.executemany(
                "INSERT OR IGNORE INTO objects VALUES (?, ?, ?, ?)",
                [(_b(oid), numbers[p] if p else None, offset, size)
                 for oid, (p, offset, size) in segment.objects.items()])
            self.db.executemany(
                "INSERT INTO records VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE "
                "SET models = max(models, excluded.models)",
                [(_b(r), 1, through) for r in segment.records]
                + [(_b(r), 0, through) for r in segment.partial])
            self.db.executemany("INSERT OR IGNORE INTO tags VALUES (?)",
                                [(t,) for t in segment.tags])
            self.db.executemany("INSERT OR IGNORE INTO thumbs VALUES (?, ?)",
                                [(_b(o), _b(t)) for o, t in segment.thumbs.items()])
            self._set_meta("through", max(through, self.through))

    def _pack_number(self, pack: str) -> int:
        return int(self.db.execute("SELECT n FROM packs WHERE name = ?", (_b(pack),)).fetchone()[0])

    def _rows_for(self, query: str, ids: Iterable[str]) -> Iterator[Any]:
        """The rows of ``query`` for ``ids``, its ``IN ({})`` filled a chunk at a time
        (SQLite bounds the number of parameters)."""
        for chunk in _chunks(list(ids)):
            marks = ",".join("?" * len(chunk))
            yield from self.db.execute(query.format(marks), [_b(i) for i in chunk])

    def locations(self, oids: Iterable[str]) -> dict[str, Location]:
        """Where each of ``oids`` the remote has lives; the others are left out."""
        rows = self._rows_for("SELECT o.oid, p.name, o.start, o.size FROM objects o "
                              "LEFT JOIN packs p ON p.n = o.pack WHERE o.oid IN ({})", oids)
        return {oid.hex(): (pack.hex() if pack else None, start, size)
                for oid, pack, start, size in rows}

    def thumbnails(self, outputs: Iterable[str]) -> dict[str, str]:
        """The thumbnail id the remote lists for each of ``outputs`` that has one."""
        rows = self._rows_for("SELECT output, thumb FROM thumbs WHERE output IN ({})", outputs)
        return {output.hex(): thumb.hex() for output, thumb in rows}

    def record_states(self, ids: Iterable[str]) -> dict[str, bool]:
        """For each of ``ids`` on the remote: True when sent with its model versions."""
        rows = self._rows_for("SELECT id, models FROM records WHERE id IN ({})", ids)
        return {rid.hex(): bool(models) for rid, models in rows}

    def records_since(self, seen: int) -> list[str]:
        """Records first applied after log position ``seen`` (0: every record)."""
        return [r.hex() for (r,) in self.db.execute(
            "SELECT id FROM records WHERE seen > ? ORDER BY id", (seen,))]

    def find_records(self, prefix: str) -> list[str]:
        """Records whose id starts with the hex ``prefix`` (at most two: enough to
        say whether it is unique)."""
        low = _b(prefix.ljust(64, "0"))
        high = _b(prefix.ljust(64, "f"))
        return [r.hex() for (r,) in self.db.execute(
            "SELECT id FROM records WHERE id BETWEEN ? AND ? LIMIT 2", (low, high))]

    def tags(self) -> list[str]:
        return [str(t) for (t,) in self.db.execute("SELECT name FROM tags ORDER BY name")]

    def counts(self) -> dict[str, int]:
        return {table: int(self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
                for table in ("objects", "packs", "records", "tags")}
