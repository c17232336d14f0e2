"""The lineage index: derived SQLite tables for fast look-ups.

Tables: ``records`` (one row a record), ``outputs`` (output BLAKE3 ->
record), ``record_models``, ``record_inputs`` and ``edges`` (child ->
parent). Everything here can be rebuilt from the record objects, so the file
may be deleted at any time; ``Index.rebuild`` does that.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from repro.lineage.record import Record

INDEX_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY,
    output TEXT NOT NULL,
    output_sha256 TEXT,
    path TEXT,
    captured_at TEXT,
    tool TEXT,
    level TEXT,
    seed TEXT,
    summary BLOB
);
CREATE INDEX IF NOT EXISTS records_output ON records(output);
CREATE INDEX IF NOT EXISTS records_output_sha256 ON records(output_sha256);
CREATE INDEX IF NOT EXISTS records_captured ON records(captured_at);
CREATE INDEX IF NOT EXISTS records_path ON records(path);
CREATE TABLE IF NOT EXISTS record_models (
    record TEXT NOT NULL, blake3 TEXT, role TEXT, name TEXT, path TEXT
);
CREATE INDEX IF NOT EXISTS record_models_record ON record_models(record);
CREATE INDEX IF NOT EXISTS record_models_blake3 ON record_models(blake3);
CREATE INDEX IF NOT EXISTS record_models_name ON record_models(name);
CREATE TABLE IF NOT EXISTS record_inputs (
    record TEXT NOT NULL, blake3 TEXT, sha256 TEXT, role TEXT, name TEXT
);
CREATE INDEX IF NOT EXISTS record_inputs_record ON record_inputs(record);
CREATE INDEX IF NOT EXISTS record_inputs_blake3 ON record_inputs(blake3);
CREATE INDEX IF NOT EXISTS record_inputs_sha256 ON record_inputs(sha256);
CREATE TABLE IF NOT EXISTS edges (
    child TEXT NOT NULL, parent TEXT NOT NULL, kind TEXT NOT NULL DEFAULT 'input',
    PRIMARY KEY (child, parent)
);
CREATE INDEX IF NOT EXISTS edges_parent ON edges(parent);
"""


def connect(path: Path) -> sqlite3.Connection:
    """Open the index database (WAL: readers never block the writer)."""
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class Index:
    """Query and update the derived lineage tables."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        conn.executescript(SCHEMA)

    # -- writing ---------------------------------------------------------------

    def add(self, record: Record, edges: Iterable[tuple[str, str, str]] = ()) -> None:
        """Index one record and its edges (child, parent, kind), in one transaction."""
        with self.conn:
            self.conn.execute("BEGIN")
            self._add(record, edges)

    def add_many(self, records: list[Record]) -> None:
        """Index several records in one transaction."""
        if not records:
            return
        with self.conn:
            self.conn.execute("BEGIN")
            for record in records:
                self._add(record, ())

    def _add(self, record: Record, edges: Iterable[tuple[str, str, str]]) -> None:
        d = record.data
        out = d.get("output") or {}
        params = d.get("params") or {}
        seed = params.get("seed")
        summary = orjson.dumps({
            "name": Path(out.get("path") or "").name,
            "tool": (d.get("tool") or {}).get("name"),
            "seed": seed,
            "level": record.level,
        })
        self.conn.execute(
            "INSERT OR REPLACE INTO records VALUES (?,?,?,?,?,?,?,?,?)",
            (record.id, out.get("blake3"), out.get("sha256"), out.get("path"),
             (d.get("captured") or {}).get("at"), (d.get("tool") or {}).get("name"),
             record.level, None if seed is None else str(seed), summary))
        self.conn.execute("DELETE FROM record_models WHERE record = ?", (record.id,))
        self.conn.execute("DELETE FROM record_inputs WHERE record = ?", (record.id,))
        self.conn.executemany(
            "INSERT INTO record_models VALUES (?,?,?,?,?)",
            [(record.id, m.get("blake3"), m.get("role"), m.get("name"), m.get("path"))
             for m in record.models])
        self.conn.executemany(
            "INSERT INTO record_inputs VALUES (?,?,?,?,?)",
            [(record.id, i.get("blake3"), (i.get("hashes") or {}).get("sha256"),
              i.get("role"), i.get("name")) for i in record.inputs])
        parent_edges = [(record.id, p, "parent") for p in record.parents]
        self.conn.executemany("INSERT OR IGNORE INTO edges VALUES (?,?,?)",
                              [*parent_edges, *edges])

    def add_edge(self, child: str, parent: str, kind: str = "input") -> None:
        self.conn.execute("INSERT OR IGNORE INTO edges VALUES (?,?,?)", (child, parent, kind))

    def clear(self) -> None:
        with self.conn:
            self.conn.execute("BEGIN")
            for table in ("records", "record_models", "record_inputs", "edges"):
                self.conn.execute(f"DELETE FROM {table}")

    # -- reading ---------------------------------------------------------------

    def count(self) -> int:
        row = self.conn.execute("SELECT count(*) FROM records").fetchone()
        return int(row[0])

    def record_for_output(self, blake3: str) -> str | None:
        row = self.conn.execute(
            "SELECT id FROM records WHERE output = ? ORDER BY captured_at LIMIT 1",
            (blake3,)).fetchone()
        return row[0] if row else None

    def records_for_output_sha256(self, sha256: str) -> list[str]:
        rows = self.conn.execute("SELECT id FROM records WHERE output_sha256 = ?", (sha256,))
        return [r[0] for r in rows]

    def records_for_path(self, path: str) -> list[str]:
        rows = self.conn.execute(
            "SELECT id FROM records WHERE path = ? ORDER BY captured_at DESC", (path,))
        return [r[0] for r in rows]

    def ids_with_prefix(self, prefix: str, limit: int = 2) -> list[str]:
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        rows = self.conn.execute(
            "SELECT id FROM records WHERE id >= ? AND id < ? LIMIT ?", (prefix, upper, limit))
        return [r[0] for r in rows]

    def all_ids(self, newest_first: bool = True, limit: int | None = None) -> list[str]:
        order = "DESC" if newest_first else "ASC"
        sql = f"SELECT id FROM records ORDER BY captured_at {order}, id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [r[0] for r in self.conn.execute(sql)]

    def parents(self, record_id: str) -> list[str]:
        rows = self.conn.execute("SELECT parent FROM edges WHERE child = ? ORDER BY parent",
                                 (record_id,))
        return [r[0] for r in rows]

    def children(self, record_id: str) -> list[str]:
        rows = self.conn.execute("SELECT child FROM edges WHERE parent = ? ORDER BY child",
                                 (record_id,))
        return [r[0] for r in rows]

    def edges_from(self, ids: Iterable[str]) -> Iterator[tuple[str, str, str]]:
        for rid in ids:
            for row in self.conn.execute("SELECT child, parent, kind FROM edges WHERE child = ?",
                                         (rid,)):
                yield row[0], row[1], row[2]

    def ancestors(self, record_id: str, limit: int | None = None) -> list[str]:
        """Every ancestor, nearest first (breadth-first through the edges table)."""
        return self._walk(record_id, "SELECT parent FROM edges WHERE child = ?", limit)

    def descendants(self, record_id: str, limit: int | None = None) -> list[str]:
        return self._walk(record_id, "SELECT child FROM edges WHERE parent = ?", limit)

    def _walk(self, start: str, sql: str, limit: int | None) -> list[str]:
        seen = {start}
        order: list[str] = []
        frontier = [start]
        while frontier and (limit is None or len(order) < limit):
            nxt = []
            for rid in frontier:
                for (other,) in self.conn.execute(sql, (rid,)):
                    if other not in seen:
                        seen.add(other)
                        order.append(other)
                        nxt.append(other)
            frontier = sorted(nxt)
        return order if limit is None else order[:limit]

    def records_using(self, blake3s: Iterable[str]) -> list[str]:
        ids: list[str] = []
        for b in blake3s:
            rows = self.conn.execute(
                "SELECT DISTINCT m.record FROM record_models m JOIN records r ON r.id = m.record "
                "WHERE m.blake3 = ? ORDER BY r.captured_at DESC", (b,))
            ids.extend(r[0] for r in rows if r[0] not in ids)
        return ids

    def records_with_input(self, blake3: str | None, sha256: str | None) -> list[str]:
        rows = self.conn.execute(
            "SELECT DISTINCT record FROM record_inputs WHERE (blake3 = ? AND blake3 IS NOT NULL) "
            "OR (sha256 = ? AND sha256 IS NOT NULL)", (blake3, sha256))
        return [r[0] for r in rows]

    def models(self) -> list[dict[str, Any]]:
        """Known model versions with the names, paths and roles they were seen under."""
        rows = self.conn.execute(
            "SELECT blake3, name, path, role, count(DISTINCT record) FROM record_models "
            "WHERE blake3 IS NOT NULL GROUP BY blake3, name, path, role ORDER BY blake3")
        out: dict[str, dict[str, Any]] = {}
        for blake3, name, path, role, uses in rows:
            entry = out.setdefault(blake3, {"blake3": blake3, "names": [], "paths": [],
                                            "roles": [], "uses": 0})
            for key, value in (("names", name), ("paths", path), ("roles", role)):
                if value is not None and value not in entry[key]:
                    entry[key].append(value)
            entry["uses"] += uses
        return list(out.values())

    def model_blake3s_named(self, name: str) -> list[str]:
        rows = self.conn.execute(
            "SELECT DISTINCT blake3 FROM record_models WHERE blake3 IS NOT NULL AND "
            "(name = ? OR path = ? OR path LIKE ?)", (name, name, "%/" + name))
        return [r[0] for r in rows]

    def model_blake3s_with_prefix(self, prefix: str) -> list[str]:
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        rows = self.conn.execute(
            "SELECT DISTINCT blake3 FROM record_models WHERE blake3 >= ? AND blake3 < ?",
            (prefix, upper))
        return [r[0] for r in rows]
