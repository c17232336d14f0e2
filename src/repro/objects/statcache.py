"""The stat cache: ``(dev, inode, size, mtime_ns, ctime_ns) -> hashes``.

A model file whose stat fields are unchanged since it was hashed is not read
again, so a known 10 GB checkpoint costs one ``stat``. An entry is *racy*
when the file's mtime falls within ``RACY_NS`` of the moment it was hashed:
a write in that window could leave the same mtime with other bytes (the
git/dulwich "racy clean" problem), so such entries are re-hashed.

It is only a cache: deleting it loses nothing but time.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from repro.objects.ids import prefix_upper
from repro.record.values import value_class

RACY_NS = 2_000_000_000
HASH_COLUMNS = ("blake3", "sha256", "tensor_sha256", "autov1", "crc32")

SCHEMA = """
CREATE TABLE IF NOT EXISTS stat_cache (
    dev INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    hashed_at_ns INTEGER NOT NULL,
    path TEXT NOT NULL,
    blake3 TEXT, sha256 TEXT, tensor_sha256 TEXT, autov1 TEXT, crc32 TEXT,
    PRIMARY KEY (dev, inode)
);
CREATE INDEX IF NOT EXISTS stat_cache_blake3 ON stat_cache(blake3);
CREATE INDEX IF NOT EXISTS stat_cache_sha256 ON stat_cache(sha256);
CREATE INDEX IF NOT EXISTS stat_cache_tensor ON stat_cache(tensor_sha256);
CREATE INDEX IF NOT EXISTS stat_cache_autov1 ON stat_cache(autov1);
CREATE INDEX IF NOT EXISTS stat_cache_size ON stat_cache(size);
"""

Compute = Callable[[Path, set[str]], dict[str, str]]


@value_class(frozen=True)
class Entry:
    path: str
    size: int
    hashes: dict[str, str]


class StatCache:
    """Hashes of files keyed by their stat signature, in the index database."""

    def __init__(self, conn: sqlite3.Connection, compute: Compute):
        self.conn = conn
        self.compute = compute
        conn.executescript(SCHEMA)

    def lookup(self, path: Path, st: os.stat_result | None = None) -> dict[str, str]:
        """Cached hashes for ``path`` if its stat still matches and is not racy, else {}.

        A scheme that was computed but does not apply to the file (AutoV1 under
        2 MiB, a tensor hash of a pickle) is present with the value ``""``, so it
        is not computed again; ``hashes()`` leaves those out.
        """
        st = st or os.stat(path)
        row = self.conn.execute(
            "SELECT size, mtime_ns, ctime_ns, hashed_at_ns, " + ", ".join(HASH_COLUMNS)
            + " FROM stat_cache WHERE dev = ? AND inode = ?", (st.st_dev, st.st_ino)).fetchone()
        if row is None:
            return {}
        size, mtime_ns, ctime_ns, hashed_at_ns = row[:4]
        if (size, mtime_ns, ctime_ns) != (st.st_size, st.st_mtime_ns, st.st_ctime_ns):
            return {}
        if st.st_mtime_ns >= hashed_at_ns - RACY_NS:
            return {}
        return {k: v for k, v in zip(HASH_COLUMNS, row[4:], strict=True) if v is not None}

    def hashes(self, path: Path, schemes: Iterable[str] = ("blake3",),
               st: os.stat_result | None = None) -> dict[str, str]:
        """Hashes of ``path`` for ``schemes``, computed only for what the cache lacks
        (``st``: the file's stat, when the caller has just taken it)."""
        wanted = set(schemes)
        st = st or os.stat(path)
        known = self.lookup(path, st)
        missing = {s for s in wanted if s not in known}
        if missing:
            # Take the clock before reading, so a write during hashing is racy.
            started = time.time_ns()
            computed = self.compute(path, missing)
            after = os.stat(path)
            if (after.st_size, after.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
                return {**known, **computed}  # changed while we read: don't cache
            known = {**known, **computed}
            for scheme in missing - computed.keys():
                known.setdefault(scheme, "")  # does not apply (e.g. autov1 of a small file)
            self.store(path, st, known, started)
        return {k: v for k, v in known.items() if v}

    def store(self, path: Path, st: os.stat_result, hashes: dict[str, str],
              hashed_at_ns: int) -> None:
        values = [hashes.get(c) for c in HASH_COLUMNS]
        # A full disk, a read-only store: the cache is only a cache.
        with contextlib.suppress(sqlite3.OperationalError):
            self._insert(st, path, values, hashed_at_ns)

    def _insert(self, st: os.stat_result, path: Path, values: list[str | None],
                hashed_at_ns: int) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO stat_cache VALUES (?,?,?,?,?,?,?," + ",".join("?" * len(HASH_COLUMNS)) + ")",
            (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, hashed_at_ns,
             str(path), *values))
        self.conn.commit()

    def blake3s_of_size(self, size: int) -> list[str]:
        """BLAKE3s of files of this size hashed before (whatever their stat is now)."""
        rows = self.conn.execute("SELECT DISTINCT blake3 FROM stat_cache WHERE size = ? "
                                 "AND blake3 IS NOT NULL AND blake3 != ''", (size,))
        return [r[0] for r in rows]

    def find(self, scheme: str, value: str) -> Iterator[Entry]:
        """Entries whose ``scheme`` hash starts with ``value`` (a prefix of 8+ hex)."""
        if scheme not in HASH_COLUMNS or len(value) < 8:
            return
        value = value.lower()
        upper = prefix_upper(value)
        rows = self.conn.execute(
            f"SELECT path, size, {', '.join(HASH_COLUMNS)} FROM stat_cache "
            f"WHERE {scheme} >= ? AND {scheme} < ?", (value, upper)).fetchall()
        for row in rows:
            yield Entry(row[0], row[1], {k: v for k, v in zip(HASH_COLUMNS, row[2:], strict=True) if v})
