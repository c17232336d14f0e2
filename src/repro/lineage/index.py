"""The lineage index: derived SQLite tables for fast look-ups.

Tables (``lineage.index_schema`` has them and their spelling: ids as 32 raw
bytes, converted here so callers see hex): ``records`` (one row a record, with
its metadata blob ids and whether the output is an A1111 Extras result),
``record_models`` (by ``model_keys``: each version, name, path and role once,
with how many records used it, counted as records are written, so ``repro
models`` reads one row a name), ``record_inputs``, ``record_vary``
(variation digests, see ``lineage.variations``), ``edges`` (child ->
parent), ``model_hashes`` and ``model_links``; ``output_prints``: each
output's pixel hash and perceptual fingerprint (``lineage.perceptual``; NULL:
not a decodable image), by output BLAKE3, for ``repro identify``: a cache of
the output bytes, kept through a rebuild. Everything else can be rebuilt from
the record objects, so the file may be deleted at any time; ``Index.rebuild``
does that.

Edges found by content are derived here, in both directions, whenever
records are indexed: their inputs against known outputs (parents), and known
inputs against their outputs (children captured before their parent).
Records are immutable, so an edge to a parent found later lives only in the
index; deriving it on every ``add`` makes a rebuild reproduce it whatever the
order.
"""

from __future__ import annotations

import collections
import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from repro.lineage.index_queries import LineageQueries, stored_seed
from repro.lineage.index_schema import (
    DERIVED_TABLES,
    INDEX_VERSION,
    as_blob,
    connect,
    pack_vary,
    prefix_range,
    prepare,
)
from repro.lineage.numbering import new_numbering
from repro.objects.ids import is_id
from repro.record import Record

__all__ = ["INDEX_VERSION", "Index", "connect", "filtered_ids"]

#: ``source.blobs`` keys A1111 adds when its Extras tab re-saves an image
#: (the original ``parameters`` are kept verbatim).
DERIVED_BLOBS = ("postprocessing", "extras")

_RECORD_COLUMNS = ("id", "output", "output_sha256", "path", "captured_at", "tool", "level",
                   "seed", "parameters", "derived", "pixels_md5", "unsettled")
_UPSERT_RECORD = (
    f"INSERT INTO records ({', '.join(_RECORD_COLUMNS)}) VALUES "
    f"({','.join('?' * len(_RECORD_COLUMNS))}) ON CONFLICT(id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _RECORD_COLUMNS[1:]) + " RETURNING n")

# Edges found by content for the records numbered in ``fresh`` (this write):
# their inputs against every output, and every input against their outputs
# (bytes by BLAKE3 or SHA-256, A1111's MD5 of the decoded pixels), and A1111
# Extras results (same parameters blob, derived) against their sources.
# CROSS JOIN keeps the order written: from the few fresh rows out, never a
# scan of an index (SQLite's planner has no size for the temp table).
_DERIVE = (
    "INSERT OR IGNORE INTO edges SELECT c.id, r.id, 'input' FROM fresh f "
    "CROSS JOIN record_inputs i ON i.record = f.n CROSS JOIN records c ON c.n = f.n "
    "CROSS JOIN records r ON r.output = i.blake3 WHERE r.n != c.n",
    "INSERT OR IGNORE INTO edges SELECT c.id, r.id, 'input' FROM fresh f "
    "CROSS JOIN record_inputs i ON i.record = f.n CROSS JOIN records c ON c.n = f.n "
    "CROSS JOIN records r ON r.output_sha256 = i.sha256 WHERE length(i.sha256) = 32 AND r.n != c.n",
    "INSERT OR IGNORE INTO edges SELECT c.id, r.id, 'input' FROM fresh f "
    "CROSS JOIN record_inputs i ON i.record = f.n CROSS JOIN records c ON c.n = f.n "
    "CROSS JOIN records r ON r.pixels_md5 = i.sha256 WHERE length(i.sha256) = 16 AND r.n != c.n",
    "INSERT OR IGNORE INTO edges SELECT c.id, r.id, 'input' FROM fresh f "
    "CROSS JOIN records r ON r.n = f.n CROSS JOIN record_inputs i ON i.blake3 = r.output "
    "CROSS JOIN records c ON c.n = i.record WHERE r.n != c.n",
    "INSERT OR IGNORE INTO edges SELECT c.id, r.id, 'input' FROM fresh f "
    "CROSS JOIN records r ON r.n = f.n CROSS JOIN record_inputs i ON i.sha256 = r.output_sha256 "
    "CROSS JOIN records c ON c.n = i.record WHERE length(i.sha256) = 32 AND r.n != c.n",
    "INSERT OR IGNORE INTO edges SELECT c.id, r.id, 'input' FROM fresh f "
    "CROSS JOIN records r ON r.n = f.n CROSS JOIN record_inputs i ON i.sha256 = r.pixels_md5 "
    "CROSS JOIN records c ON c.n = i.record WHERE length(i.sha256) = 16 AND r.n != c.n",
    "INSERT OR IGNORE INTO edges SELECT x.id, s.id, 'extras' FROM fresh f "
    "CROSS JOIN records x ON x.n = f.n CROSS JOIN records s ON s.parameters = x.parameters "
    "WHERE x.derived = 1 AND s.derived = 0 AND s.output != x.output",
    "INSERT OR IGNORE INTO edges SELECT d.id, x.id, 'extras' FROM fresh f "
    "CROSS JOIN records x ON x.n = f.n CROSS JOIN records d ON d.parameters = x.parameters "
    "WHERE x.derived = 0 AND d.derived = 1 AND d.output != x.output",
)


class Index(LineageQueries):
    """Query and update the derived lineage tables."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        #: True when the file was written by another index version: rebuild it.
        self.stale = prepare(conn)
        # Numbers given to model keys and variation keys, learnt within one write
        # (another process may rebuild the index between two writes).
        self._model_keys: dict[tuple[bytes, str, str, str], int] = {}
        self._vary_numbers: dict[str, int] = {}
        #: The first record number this write gives (``records.n`` are never reused:
        #: a record numbered from it on has no rows of an earlier indexing to replace),
        #: the numbers written so far, and how many more records use each model key.
        self._first_new = 0
        self._written: set[int] = set()
        self._uses: collections.Counter[int] = collections.Counter()

    # -- writing ---------------------------------------------------------------

    def add(self, record: Record, edges: Iterable[tuple[str, str, str]] = ()) -> None:
        """Index one record and its edges (child, parent, kind), in one transaction.

        Edges found by content (inputs matching outputs, A1111 Extras results)
        are derived in both directions."""
        with self._writing():
            self._insert(record)
            self.conn.executemany("INSERT OR IGNORE INTO edges VALUES (?,?,?)",
                                  [(as_blob(c), as_blob(p), k) for c, p, k in edges
                                   if is_id(c) and is_id(p)])
            self._derive()

    def add_many(self, records: Iterable[Record],
                 json_of: Mapping[str, dict[str, Any]] | None = None) -> int:
        """Index many records in one transaction (a writer's batch); returns the count.
        ``json_of``: records' ``to_dict()`` by id, when the writer made them already."""
        return self.load(records, json_of)

    def load(self, records: Iterable[Record],
             json_of: Mapping[str, dict[str, Any]] | None = None) -> int:
        """Index many records in one transaction (bulk loads, rebuilds); returns the count.

        ``records`` may be a generator: nothing is kept of a record once its
        rows are in; the content edges are derived from the tables at the end."""
        n = 0
        with self._writing():
            for record in records:
                self._insert(record, (json_of or {}).get(record.id))
                n += 1
            self._derive()
        return n

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        self._model_keys.clear()
        self._vary_numbers.clear()
        try:
            with self.conn:
                self.conn.execute("BEGIN")
                self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS fresh "
                                  "(n INTEGER PRIMARY KEY)")
                self.conn.execute("DELETE FROM fresh")
                (last,) = self.conn.execute("SELECT max(n) FROM records").fetchone()
                self._first_new = (last or 0) + 1
                yield
                self.conn.executemany("UPDATE model_keys SET uses = uses + ? WHERE key = ?",
                                      [(more, key) for key, more in self._uses.items()])
        finally:
            self._model_keys.clear()
            self._vary_numbers.clear()
            self._written.clear()
            self._uses.clear()

    def _insert(self, record: Record, data: dict[str, Any] | None = None) -> None:
        """A record's rows (``data``: its ``to_dict()``, when the caller has it)."""
        from repro.lineage.variations import fingerprint

        out = record.output
        blobs = record.source.blobs
        (n,) = self.conn.execute(_UPSERT_RECORD, (
            as_blob(record.id), as_blob(out.blake3), as_blob(_lower(out.sha256)), out.path,
            record.captured.at, record.tool.name, record.level,
            stored_seed(record.params.get("seed")), as_blob(blobs.get("parameters")),
            int(any(k in blobs for k in DERIVED_BLOBS)), as_blob(_lower(out.pixels_md5)),
            int(_unsettled(record)),
        )).fetchone()
        self.conn.execute("INSERT OR IGNORE INTO fresh VALUES (?)", (n,))
        if n < self._first_new or n in self._written:
            # Re-indexing a record takes its old rows and uses back before the new ones.
            self.conn.execute(
                "UPDATE model_keys SET uses = uses - 1 WHERE key IN (SELECT key FROM "
                "record_models WHERE record = ?) AND blake3 != x''", (n,))
            self.conn.execute("DELETE FROM record_models WHERE record = ?", (n,))
            self.conn.execute("DELETE FROM record_inputs WHERE record = ?", (n,))
        self._written.add(n)
        keys = [self._model_key(m.blake3, m.name, m.path, m.role) for m in record.models]
        self.conn.executemany("INSERT INTO record_models VALUES (?,?,?)",
                              [(n, seq, key) for seq, key in enumerate(keys)])
        self._uses.update({k for k, m in zip(keys, record.models, strict=True) if m.blake3})
        self.conn.executemany(
            "INSERT INTO record_inputs VALUES (?,?,?,?,?)",
            [(n, seq, as_blob(i.blake3),
              as_blob(_lower(i.hashes.get("sha256") or i.recorded.get("sha256"))), i.path)
             for seq, i in enumerate(record.inputs)])
        self.conn.executemany(
            "INSERT OR IGNORE INTO model_hashes VALUES (?,?,?)",
            [(scheme, value.lower(), as_blob(m.blake3)) for m in record.models if m.blake3
             for scheme, value in m.any_hashes().items()
             if isinstance(value, str) and value and scheme != "blake3"])
        # A LoRA's metadata names the checkpoint it was trained on (kohya ss_*).
        self.conn.executemany(
            "INSERT OR IGNORE INTO model_links VALUES (?,?,?)",
            [(as_blob(m.blake3), as_blob(m.base_model.get("blake3")), m.base_model.get("name"))
             for m in record.models if m.blake3 and isinstance(m.base_model, Mapping)])
        family, core, vary = fingerprint(data if data is not None else record.to_dict())
        self.conn.execute("INSERT OR REPLACE INTO record_vary VALUES (?,?,?,?)",
                          (n, bytes.fromhex(family), bytes.fromhex(core),
                           pack_vary(vary, {k: self._vary_number(k) for k in vary})))
        # A parent that is not a record id (a hostile or damaged record) is no edge.
        self.conn.executemany("INSERT OR IGNORE INTO edges VALUES (?,?,?)",
                              [(as_blob(record.id), as_blob(p.id), p.relation)
                               for p in record.parents if is_id(p.id)])

    def _model_key(self, blake3: str | None, name: str | None, path: str | None,
                   role: str | None) -> int:
        """The number of a (version, name, path, role); NULLs are stored as '' and
        an unknown version as x'', so that the unique key matches them."""
        fields = (as_blob(blake3) or b"", name or "", path or "", role or "")
        key = self._model_keys.get(fields)
        if key is None:
            (key,) = self.conn.execute(
                "INSERT INTO model_keys (blake3, name, path, role) VALUES (?,?,?,?) "
                "ON CONFLICT(blake3, name, path, role) DO UPDATE SET uses = uses RETURNING key",
                fields).fetchone()
            self._model_keys[fields] = key
        return int(key)

    def _vary_number(self, key: str) -> int:
        number = self._vary_numbers.get(key)
        if number is None:
            (number,) = self.conn.execute(
                "INSERT INTO vary_keys (key) VALUES (?) ON CONFLICT(key) DO UPDATE "
                "SET key = key RETURNING n", (key,)).fetchone()
            self._vary_numbers[key] = number
        return int(number)

    def _derive(self) -> None:
        """Edges found by content for the records of this write (``fresh``)."""
        for sql in _DERIVE:
            self.conn.execute(sql)

    def clear(self) -> None:
        """Empty every derived table (a rebuild follows)."""
        with self.conn:
            self.conn.execute("BEGIN")
            for table in DERIVED_TABLES:
                self.conn.execute(f"DELETE FROM {table}")
            self.conn.execute("DELETE FROM meta WHERE key = 'prints_checked'")
            new_numbering(self.conn)  # the records are numbered anew
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
            (as_blob(blake3),)).fetchone()
        return row[0].hex() if row else None

    def records_for_output_sha256(self, sha256: str) -> list[str]:
        rows = self.conn.execute("SELECT id FROM records WHERE output_sha256 = ?",
                                 (as_blob(_lower(sha256)),))
        return [r[0].hex() for r in rows]

    def records_for_path(self, path: str) -> list[str]:
        rows = self.conn.execute(
            "SELECT id FROM records WHERE path = ? ORDER BY captured_at DESC", (path,))
        return [r[0].hex() for r in rows]

    def ids_with_prefix(self, prefix: str, limit: int = 2) -> list[str]:
        bounds = prefix_range(prefix)
        if bounds is None:
            return []
        low, high = bounds
        rows = self.conn.execute(
            "SELECT id FROM records WHERE id >= ? AND (? IS NULL OR id < ?) ORDER BY id LIMIT ?",
            (low, high, high, limit))
        return [r[0].hex() for r in rows]

    def all_ids(self, newest_first: bool = True, limit: int | None = None) -> list[str]:
        return list(self.iter_ids(newest_first, limit))

    def iter_ids(self, newest_first: bool = True, limit: int | None = None) -> Iterator[str]:
        """Record ids by capture time, read from the index as they are asked for."""
        order = "DESC" if newest_first else "ASC"
        sql = f"SELECT id FROM records ORDER BY captured_at {order}, id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        for (rid,) in self.conn.execute(sql):
            yield rid.hex()

    def ids_in_order(self) -> Iterator[str]:
        """Every indexed record id in id order (``fsck`` walks them beside the store)."""
        for (rid,) in self.conn.execute("SELECT id FROM records ORDER BY id"):
            yield rid.hex()

    def parents(self, record_id: str) -> list[str]:
        rows = self.conn.execute("SELECT parent FROM edges WHERE child = ? ORDER BY parent",
                                 (as_blob(record_id),))
        return [r[0].hex() for r in rows]

    def children(self, record_id: str) -> list[str]:
        rows = self.conn.execute("SELECT child FROM edges WHERE parent = ? ORDER BY child",
                                 (as_blob(record_id),))
        return [r[0].hex() for r in rows]

    def ancestors(self, record_id: str, limit: int | None = None) -> list[str]:
        """Every ancestor, nearest first (breadth-first through the edges table)."""
        return self._walk(record_id, "SELECT parent FROM edges WHERE child = ?", limit)

    def descendants(self, record_id: str, limit: int | None = None) -> list[str]:
        return self._walk(record_id, "SELECT child FROM edges WHERE parent = ?", limit)

    def _walk(self, start: str, sql: str, limit: int | None) -> list[str]:
        first = as_blob(start)
        seen = {first}
        order: list[bytes] = []
        frontier = [first]
        while frontier and (limit is None or len(order) < limit):
            nxt = []
            for rid in frontier:
                for (other,) in self.conn.execute(sql, (rid,)):
                    if other not in seen:
                        seen.add(other)
                        order.append(other)
                        nxt.append(other)
            frontier = sorted(nxt)
        found = order if limit is None else order[:limit]
        return [rid.hex() for rid in found]


def _unsettled(record: Record) -> bool:
    """Whether the record's model versions on disk do not settle its readiness
    (``repro status`` verifies it in full): captured below full, a model known by
    no version, or no model at all."""
    return (record.level != "full" or not record.models
            or any(not as_blob(m.blake3) for m in record.models))


def _lower(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) and value else None


def filtered_ids(conn: sqlite3.Connection, *, tool: str | None = None,
                 level: str | None = None, since: str | None = None, until: str | None = None,
                 models: Iterable[str] | None = None,
                 among: Iterable[str] | None = None) -> Iterator[str]:
    """Record ids newest first, narrowed by the index's columns (``repro log`` filters):
    tool, level, capture time (``since`` <= at < ``until``, ISO strings), any of
    ``models`` (BLAKE3s) used, and only ``among`` these ids (tagged records: looked up
    one chunk at a time, not found in a pass over every record)."""
    where: list[str] = []
    args: list[Any] = []
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
        wanted = [as_blob(b) for b in models]
        where.append("r.n IN (SELECT m.record FROM record_models m JOIN model_keys k "
                     f"ON k.key = m.key WHERE k.blake3 IN ({','.join('?' * len(wanted))}))")
        args += wanted
    if among is not None:
        blobs = [b for b in map(as_blob, among) if b is not None]  # garbage names nothing
        yield from _newest_first_among(conn, blobs, where, args)
        return
    sql = "SELECT r.id FROM records r" + (" WHERE " + " AND ".join(where) if where else "")
    for (rid,) in conn.execute(sql + " ORDER BY r.captured_at DESC, r.id", args):
        yield rid.hex()


def _newest_first_among(conn: sqlite3.Connection, ids: list[bytes], where: list[str],
                        args: list[Any]) -> Iterator[str]:
    """Those of ``ids`` that pass ``where``, in ``filtered_ids``' order (capture time
    newest first, unknown times last, then id), by point lookups in chunks."""
    found: list[tuple[str | None, bytes]] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        clauses = [*where, f"r.id IN ({','.join('?' * len(chunk))})"]
        found += conn.execute("SELECT r.captured_at, r.id FROM records r WHERE "
                              + " AND ".join(clauses), [*args, *chunk]).fetchall()
    found.sort(key=lambda row: row[1])
    found.sort(key=lambda row: (row[0] is not None, row[0] or ""), reverse=True)
    for _, rid in found:
        yield rid.hex()
