"""Walking a whole store with flat memory (``fsck``): whether objects are present,
asked of the store with a bounded memory of answers, and the index's record ids
walked in id order beside the store's records (which the store lists in id order).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator

from repro.api.repository import Repository
from repro.errors import IntegrityError


class Presence:
    """``oid in presence``: whether the store holds an object, remembering the
    answers for ids asked often (models) up to a bound. A model version dropped on
    purpose (``repro store drop``) counts as present: its absence is not damage."""

    LIMIT = 65_536

    def __init__(self, repo: Repository, unreadable: set[str]):
        self.store = repo.store
        self.unreadable = unreadable  # listed, though not readable: present
        from repro.api.store import dropped_versions

        self.dropped = dropped_versions(repo)
        self.known: dict[str, bool] = {}

    def __contains__(self, oid: str) -> bool:
        if oid in self.unreadable or oid in self.dropped:
            return True
        found = self.known.get(oid)
        if found is None:
            if len(self.known) >= self.LIMIT:
                self.known.clear()
            found = self.known[oid] = oid in self.store
        return found


class IndexedIds:
    """The index's record ids in id order, walked beside the store's records
    (also in id order): what is indexed is learnt without holding every id."""

    def __init__(self, repo: Repository):
        self.error: Exception | None = None
        self.skipped: list[str] = []
        #: Records seen in the store that the index lacks, in id order.
        self.not_indexed: list[str] = []
        self.rows: Iterator[tuple[str]] = iter(())
        self.head: str | None = None
        try:
            self.rows = ((rid,) for rid in repo.index.ids_in_order())
        except (IntegrityError, sqlite3.DatabaseError) as exc:
            self.error = exc
        self._next()

    def _next(self) -> None:
        try:
            row = next(self.rows, None)
        except sqlite3.DatabaseError as exc:
            self.error, row = exc, None
        self.head = None if row is None else row[0]

    def see(self, rid: str) -> None:
        """Note a record of the store (in id order): indexed or not."""
        if not self.has(rid):
            self.not_indexed.append(rid)

    def has(self, rid: str) -> bool:
        """Whether ``rid`` is indexed; ids passed over on the way are not in the store."""
        while self.head is not None and self.head < rid:
            self.skipped.append(self.head)
            self._next()
        if self.head == rid:
            self._next()
            return True
        return False

    def rest(self) -> list[str]:
        """Indexed ids that no record in the store matched."""
        while self.head is not None:
            self.skipped.append(self.head)
            self._next()
        return self.skipped


class IdSet:
    """A set of ids kept in a private temporary SQLite file (deleted when closed)
    rather than in memory: ``gc``'s reachable set stays flat at 1,000,000 records
    (a Python set of them grew by about 800 bytes a record)."""

    def __init__(self, ids: Iterable[str] = ()):
        # "" is SQLite's private temporary database: on disk, a small page cache.
        self.conn = sqlite3.connect("", isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=OFF")
        self.conn.execute("PRAGMA synchronous=OFF")
        self.conn.execute("CREATE TABLE ids (id TEXT PRIMARY KEY) WITHOUT ROWID")
        self.conn.execute("BEGIN")
        self.update(ids)

    def add(self, oid: str) -> None:
        self.conn.execute("INSERT OR IGNORE INTO ids VALUES (?)", (oid,))

    def update(self, ids: Iterable[str]) -> None:
        self.conn.executemany("INSERT OR IGNORE INTO ids VALUES (?)", ((i,) for i in ids))

    def __contains__(self, oid: object) -> bool:
        return self.conn.execute("SELECT 1 FROM ids WHERE id = ?", (oid,)).fetchone() is not None

    def close(self) -> None:
        self.conn.close()
