"""The lineage index: derived SQLite tables for fast look-ups.

Tables: ``records`` (one row a record), ``outputs`` (output BLAKE3 ->
record), ``record_models``, ``record_inputs``, ``record_source`` (metadata
blob ids, whether the output is an A1111 Extras result), ``record_vary``
(variation digests, see ``lineage.variations``) and ``edges`` (child ->
parent), and ``model_uses``: how many records used each model version
under each name, path and role, counted as records are written (so
``repro models`` reads one row a version and name, not every use);
``output_prints``: each output's pixel hash and perceptual fingerprint
(``lineage.perceptual``; NULL: not a decodable image), by output BLAKE3, for
``repro identify``: a cache of the output bytes, kept through a rebuild. Everything here can be rebuilt from the record objects, so the file
may be deleted at any time; ``Index.rebuild`` does that.

Edges found by content are derived here, in both directions, whenever a
record is indexed: its inputs against known outputs (parents), and known
inputs against its output (children captured before their parent). Records
are immutable, so an edge to a parent found later lives only in the index;
deriving it on every ``add`` makes a rebuild reproduce it whatever the order.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from repro.lineage.index_queries import LineageQueries
from repro.objects.ids import is_id, prefix_upper
from repro.record import Record

INDEX_VERSION = 8

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
CREATE INDEX IF NOT EXISTS records_tool ON records(tool, captured_at);
CREATE TABLE IF NOT EXISTS record_models (
    record TEXT NOT NULL, blake3 TEXT, role TEXT, name TEXT, path TEXT
);
CREATE INDEX IF NOT EXISTS record_models_record ON record_models(record);
CREATE INDEX IF NOT EXISTS record_models_blake3 ON record_models(blake3);
CREATE INDEX IF NOT EXISTS record_models_name ON record_models(name);
CREATE INDEX IF NOT EXISTS record_models_path ON record_models(path);
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
CREATE TABLE IF NOT EXISTS record_source (
    record TEXT PRIMARY KEY, parameters TEXT, derived INTEGER NOT NULL DEFAULT 0,
    pixels_md5 TEXT
);
CREATE INDEX IF NOT EXISTS record_source_parameters ON record_source(parameters);
CREATE INDEX IF NOT EXISTS record_source_pixels ON record_source(pixels_md5);
CREATE TABLE IF NOT EXISTS model_hashes (
    scheme TEXT NOT NULL, value TEXT NOT NULL, blake3 TEXT NOT NULL,
    PRIMARY KEY (value, scheme, blake3)
);
CREATE TABLE IF NOT EXISTS model_links (
    model TEXT NOT NULL, base TEXT, base_name TEXT, PRIMARY KEY (model, base, base_name)
);
CREATE TABLE IF NOT EXISTS record_vary (
    record TEXT PRIMARY KEY, family TEXT NOT NULL, core TEXT NOT NULL, vary BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS model_uses (
    blake3 TEXT NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL, role TEXT NOT NULL,
    uses INTEGER NOT NULL, PRIMARY KEY (blake3, name, path, role)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS output_prints (
    output TEXT PRIMARY KEY, pixels TEXT, print INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS output_prints_pixels ON output_prints(pixels);
CREATE INDEX IF NOT EXISTS output_prints_p0 ON output_prints((print >> 48) & 65535);
CREATE INDEX IF NOT EXISTS output_prints_p1 ON output_prints((print >> 32) & 65535);
CREATE INDEX IF NOT EXISTS output_prints_p2 ON output_prints((print >> 16) & 65535);
CREATE INDEX IF NOT EXISTS output_prints_p3 ON output_prints(print & 65535);
CREATE INDEX IF NOT EXISTS record_vary_family ON record_vary(family);
CREATE INDEX IF NOT EXISTS record_vary_core ON record_vary(core);
"""

#: ``source.blobs`` keys A1111 adds when its Extras tab re-saves an image
#: (the original ``parameters`` are kept verbatim).
DERIVED_BLOBS = ("postprocessing", "extras")
_TABLES = ("records", "record_models", "record_inputs", "record_source", "record_vary", "edges",
           "model_hashes", "model_links", "model_uses")


def connect(path: Path) -> sqlite3.Connection:
    """Open the index database (WAL: readers never block the writer)."""
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class Index(LineageQueries):
    """Query and update the derived lineage tables."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        conn.executescript(SCHEMA)
        row = conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        if row is None and conn.execute("SELECT 1 FROM records LIMIT 1").fetchone() is None:
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (str(INDEX_VERSION),))
            row = (str(INDEX_VERSION),)
        #: True when the file was written by another index version: rebuild it.
        self.stale = row is None or row[0] != str(INDEX_VERSION)

    # -- writing ---------------------------------------------------------------

    def add(self, record: Record, edges: Iterable[tuple[str, str, str]] = ()) -> None:
        """Index one record and its edges (child, parent, kind), in one transaction.

        Edges found by content (inputs matching outputs, A1111 Extras results)
        are derived in both directions."""
        with self.conn:
            self.conn.execute("BEGIN")
            self._insert(record)
            self.conn.executemany("INSERT OR IGNORE INTO edges VALUES (?,?,?)", list(edges))
            self._derive(record.id, {"blake3": record.output.blake3,
                                     "sha256": record.output.sha256,
                                     "pixels_md5": record.output.pixels_md5})

    def add_many(self, records: Iterable[Record]) -> int:
        """Index many records in one transaction (a writer's batch); returns the count."""
        return self.load(records)

    def load(self, records: Iterable[Record]) -> int:
        """Index many records in one transaction (bulk loads, rebuilds); returns the count.

        ``records`` may be a generator: only ids and output hashes are kept
        until the content edges are derived, once every row is in."""
        n = 0
        outputs: list[tuple[str, dict[str, Any]]] = []
        with self.conn:
            self.conn.execute("BEGIN")
            for record in records:
                self._insert(record)
                outputs.append((record.id, {"blake3": record.output.blake3,
                                            "sha256": record.output.sha256,
                                            "pixels_md5": record.output.pixels_md5}))
                n += 1
            for rid, out in outputs:
                self._derive(rid, out)
        return n

    def _insert(self, record: Record) -> None:
        from repro.lineage.variations import fingerprint

        out = record.output
        seed = record.params.get("seed")
        summary = orjson.dumps({
            "name": Path(out.path or "").name,
            "tool": record.tool.name,
            "seed": seed,
            "level": record.level,
        })
        self.conn.execute(
            "INSERT OR REPLACE INTO records VALUES (?,?,?,?,?,?,?,?,?)",
            (record.id, out.blake3, out.sha256, out.path, record.captured.at, record.tool.name,
             record.level, None if seed is None else str(seed), summary))
        # Re-indexing a record takes its old uses back before counting the new ones.
        self._count_uses(self.conn.execute(
            "SELECT DISTINCT blake3, name, path, role FROM record_models WHERE record = ? "
            "AND blake3 IS NOT NULL", (record.id,)).fetchall(), -1)
        self.conn.execute("DELETE FROM record_models WHERE record = ?", (record.id,))
        self._count_uses({(m.blake3, m.name, m.path, m.role) for m in record.models
                          if m.blake3}, 1)
        self.conn.execute("DELETE FROM record_inputs WHERE record = ?", (record.id,))
        self.conn.executemany(
            "INSERT INTO record_models VALUES (?,?,?,?,?)",
            [(record.id, m.blake3, m.role, m.name, m.path) for m in record.models])
        self.conn.executemany(
            "INSERT INTO record_inputs VALUES (?,?,?,?,?)",
            [(record.id, i.blake3, _lower(i.hashes.get("sha256") or i.recorded.get("sha256")),
              i.role, i.name) for i in record.inputs])
        self.conn.executemany(
            "INSERT OR IGNORE INTO model_hashes VALUES (?,?,?)",
            [(scheme, value.lower(), m.blake3) for m in record.models if m.blake3
             for scheme, value in m.any_hashes().items()
             if isinstance(value, str) and value and scheme != "blake3"])
        # A LoRA's metadata names the checkpoint it was trained on (kohya ss_*).
        self.conn.executemany(
            "INSERT OR IGNORE INTO model_links VALUES (?,?,?)",
            [(m.blake3, m.base_model.get("blake3"), m.base_model.get("name"))
             for m in record.models if m.blake3 and isinstance(m.base_model, Mapping)])
        blobs = record.source.blobs
        derived = any(k in blobs for k in DERIVED_BLOBS)
        self.conn.execute("INSERT OR REPLACE INTO record_source VALUES (?,?,?,?)",
                          (record.id, blobs.get("parameters"), int(derived),
                           _lower(out.pixels_md5)))
        family, core, vary = fingerprint(record.to_dict())
        self.conn.execute("INSERT OR REPLACE INTO record_vary VALUES (?,?,?,?)",
                          (record.id, family, core, orjson.dumps(vary)))
        # A parent that is not a record id (a hostile or damaged record) is no edge.
        self.conn.executemany("INSERT OR IGNORE INTO edges VALUES (?,?,?)",
                              [(record.id, p.id, p.relation) for p in record.parents
                               if is_id(p.id)])

    def _count_uses(self, keys: Iterable[tuple[Any, Any, Any, Any]], step: int) -> None:
        # NULLs are stored as '' so that the primary key (name, path, role) matches them.
        self.conn.executemany(
            "INSERT INTO model_uses VALUES (?,?,?,?,?) ON CONFLICT DO UPDATE "
            "SET uses = uses + excluded.uses",
            [(b, n or "", p or "", r or "", step) for b, n, p, r in keys])

    def _derive(self, rid: str, out: dict[str, Any]) -> None:
        """Edges found by content, towards parents and towards children already indexed."""
        found: list[tuple[str, str, str]] = []
        # Parents: known outputs whose bytes (BLAKE3, SHA-256) or pixels (A1111's
        # MD5 of the decoded image) match one of this record's inputs.
        for (parent,) in self.conn.execute(
                "SELECT DISTINCT r.id FROM record_inputs i JOIN records r ON r.output = i.blake3 "
                "WHERE i.record = ? UNION SELECT r.id FROM record_inputs i JOIN records r "
                "ON r.output_sha256 = i.sha256 WHERE i.record = ? AND length(i.sha256) = 64 "
                "UNION SELECT s.record FROM record_inputs i JOIN record_source s "
                "ON s.pixels_md5 = i.sha256 WHERE i.record = ? AND length(i.sha256) = 32",
                (rid, rid, rid)):
            found.append((rid, parent, "input"))
        # Children captured before this output was: their inputs match it now.
        blake3, sha256 = out.get("blake3"), _lower(out.get("sha256"))
        pixels = _lower(out.get("pixels_md5"))
        for (child,) in self.conn.execute(
                "SELECT DISTINCT record FROM record_inputs WHERE (blake3 = ? AND ? IS NOT NULL) "
                "OR (sha256 = ? AND length(sha256) = 64) OR (sha256 = ? AND length(sha256) = 32)",
                (blake3, blake3, sha256, pixels)):
            found.append((child, rid, "input"))
        # A1111 Extras keeps the source's infotext verbatim and adds a
        # ``postprocessing`` chunk: same parameters blob, different output.
        row = self.conn.execute("SELECT parameters, derived FROM record_source WHERE record = ?",
                                (rid,)).fetchone()
        if row is not None and row[0] is not None:
            blob, derived = row
            for (other,) in self.conn.execute(
                    "SELECT s.record FROM record_source s JOIN records r ON r.id = s.record "
                    "WHERE s.parameters = ? AND s.derived = ? AND r.output != ?",
                    (blob, 0 if derived else 1, blake3 or "")):
                found.append((rid, other, "extras") if derived else (other, rid, "extras"))
        self.conn.executemany("INSERT OR IGNORE INTO edges VALUES (?,?,?)",
                              [e for e in found if e[0] != e[1]])

    def clear(self) -> None:
        """Empty every derived table (a rebuild follows)."""
        with self.conn:
            self.conn.execute("BEGIN")
            for table in _TABLES:
                self.conn.execute(f"DELETE FROM {table}")
            self.conn.execute("DELETE FROM meta WHERE key = 'prints_checked'")
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)",
                              (str(INDEX_VERSION),))
        self.stale = False

    # -- reading ---------------------------------------------------------------

    def count(self) -> int:
        row = self.conn.execute("SELECT count(*) FROM records").fetchone()
        return int(row[0])

    def record_for_output(self, blake3: str) -> str | None:
        row = self.conn.execute(
            "SELECT id FROM records WHERE output = ? ORDER BY captured_at DESC, id LIMIT 1",
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
        upper = prefix_upper(prefix)
        rows = self.conn.execute(
            "SELECT id FROM records WHERE id >= ? AND id < ? LIMIT ?", (prefix, upper, limit))
        return [r[0] for r in rows]

    def all_ids(self, newest_first: bool = True, limit: int | None = None) -> list[str]:
        return list(self.iter_ids(newest_first, limit))

    def iter_ids(self, newest_first: bool = True, limit: int | None = None) -> Iterator[str]:
        """Record ids by capture time, read from the index as they are asked for."""
        order = "DESC" if newest_first else "ASC"
        sql = f"SELECT id FROM records ORDER BY captured_at {order}, id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        for (rid,) in self.conn.execute(sql):
            yield rid

    def parents(self, record_id: str) -> list[str]:
        rows = self.conn.execute("SELECT parent FROM edges WHERE child = ? ORDER BY parent",
                                 (record_id,))
        return [r[0] for r in rows]

    def children(self, record_id: str) -> list[str]:
        rows = self.conn.execute("SELECT child FROM edges WHERE parent = ? ORDER BY child",
                                 (record_id,))
        return [r[0] for r in rows]

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

def _lower(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) and value else None


def filtered_ids(conn: sqlite3.Connection, *, tool: str | None = None,
                 level: str | None = None, since: str | None = None, until: str | None = None,
                 models: Iterable[str] | None = None) -> Iterator[str]:
    """Record ids newest first, narrowed by the index's columns (``repro log`` filters):
    tool, level, capture time (``since`` <= at < ``until``, ISO strings), and any of
    ``models`` (BLAKE3s) used."""
    where, args = [], []
    for column, value in (("tool", tool), ("level", level)):
        if value is not None:
            where.append(f"r.{column} = ?")
            args.append(value)
    if since is not None:
        where.append("r.captured_at >= ?")
        args.append(since)
    if until is not None:
        where.append("r.captured_at < ?")
        args.append(until)
    if models is not None:
        wanted = list(models)
        where.append(f"r.id IN (SELECT record FROM record_models WHERE blake3 IN "
                     f"({','.join('?' * len(wanted))}))")
        args += wanted
    sql = "SELECT r.id FROM records r" + (" WHERE " + " AND ".join(where) if where else "")
    for (rid,) in conn.execute(sql + " ORDER BY r.captured_at DESC, r.id", args):
        yield rid
