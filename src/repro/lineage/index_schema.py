"""The lineage index's tables, how a file of another index version is made
current, and the spelling of ids inside it.

Ids (records, outputs, models, blobs) are stored as their 32 raw bytes, not
64 hex characters: half the room in every row and every index that holds
one. ``lineage.index`` converts at its boundary, so callers see hex strings.
A record's rowid (``records.n``) names it in the per-record tables, a few
bytes where an id took 32. Model names are kept once per (version, name,
path, role) in ``model_keys``, which also counts the records that used each
(``repro models`` reads one row a name). Variation digests are 8 bytes each,
their keys numbered in ``vary_keys``.

Everything but ``output_prints`` (a cache of the decoded output bytes, costly
to make again) and ``stat_cache`` (``objects.statcache``) is rebuilt from the
record objects. A file written by another index version has its tables
dropped and made anew (``prepare``), the fingerprints carried over, and is then
rebuilt by the repository; but version 10, which lacks only a column and
indexes, is moved in place (``_from_10``).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping

INDEX_VERSION = 11

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS records (
    n INTEGER PRIMARY KEY,
    id BLOB NOT NULL UNIQUE,
    output BLOB NOT NULL,
    output_sha256 BLOB,
    path TEXT,
    captured_at TEXT,
    tool TEXT,
    level TEXT,
    seed TEXT,
    parameters BLOB,
    derived INTEGER NOT NULL DEFAULT 0,
    pixels_md5 BLOB,
    unsettled INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS records_output ON records(output);
CREATE INDEX IF NOT EXISTS records_output_sha256 ON records(output_sha256);
CREATE INDEX IF NOT EXISTS records_captured ON records(captured_at);
CREATE INDEX IF NOT EXISTS records_path ON records(path);
CREATE INDEX IF NOT EXISTS records_tool ON records(tool, captured_at);
CREATE INDEX IF NOT EXISTS records_parameters ON records(parameters)
    WHERE parameters IS NOT NULL;
CREATE INDEX IF NOT EXISTS records_pixels ON records(pixels_md5) WHERE pixels_md5 IS NOT NULL;
CREATE INDEX IF NOT EXISTS records_unsettled ON records(n) WHERE unsettled = 1;
CREATE TABLE IF NOT EXISTS model_keys (
    key INTEGER PRIMARY KEY, blake3 BLOB NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL,
    role TEXT NOT NULL, uses INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS model_keys_unique ON model_keys(blake3, name, path, role);
CREATE TABLE IF NOT EXISTS record_models (
    record INTEGER NOT NULL, seq INTEGER NOT NULL, key INTEGER NOT NULL,
    PRIMARY KEY (record, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS record_models_key ON record_models(key, record);
CREATE TABLE IF NOT EXISTS record_inputs (
    record INTEGER NOT NULL, seq INTEGER NOT NULL, blake3 BLOB, sha256 BLOB, path TEXT,
    PRIMARY KEY (record, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS record_inputs_blake3 ON record_inputs(blake3)
    WHERE blake3 IS NOT NULL;
CREATE INDEX IF NOT EXISTS record_inputs_sha256 ON record_inputs(sha256)
    WHERE sha256 IS NOT NULL;
CREATE INDEX IF NOT EXISTS record_inputs_looked_at ON record_inputs(record)
    WHERE blake3 IS NULL OR path IS NOT NULL;
CREATE TABLE IF NOT EXISTS edges (
    child BLOB NOT NULL, parent BLOB NOT NULL, kind TEXT NOT NULL DEFAULT 'input',
    PRIMARY KEY (child, parent)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS edges_parent ON edges(parent);
CREATE TABLE IF NOT EXISTS model_hashes (
    scheme TEXT NOT NULL, value TEXT NOT NULL, blake3 BLOB NOT NULL,
    PRIMARY KEY (value, scheme, blake3)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS model_links (
    model BLOB NOT NULL, base BLOB, base_name TEXT, PRIMARY KEY (model, base, base_name)
);
CREATE TABLE IF NOT EXISTS record_vary (
    record INTEGER PRIMARY KEY, family BLOB NOT NULL, core BLOB NOT NULL, vary BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS record_vary_family ON record_vary(family);
CREATE INDEX IF NOT EXISTS record_vary_core ON record_vary(core);
CREATE TABLE IF NOT EXISTS vary_keys (n INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS output_prints (
    output BLOB PRIMARY KEY, pixels BLOB, print INTEGER
);
CREATE INDEX IF NOT EXISTS output_prints_pixels ON output_prints(pixels)
    WHERE pixels IS NOT NULL;
CREATE INDEX IF NOT EXISTS output_prints_p0 ON output_prints((print >> 48) & 65535, print)
    WHERE print IS NOT NULL;
CREATE INDEX IF NOT EXISTS output_prints_p1 ON output_prints((print >> 32) & 65535, print)
    WHERE print IS NOT NULL;
CREATE INDEX IF NOT EXISTS output_prints_p2 ON output_prints((print >> 16) & 65535, print)
    WHERE print IS NOT NULL;
CREATE INDEX IF NOT EXISTS output_prints_p3 ON output_prints(print & 65535, print)
    WHERE print IS NOT NULL;
"""

#: Tables a rebuild empties (``output_prints`` is kept: it is not made from records).
DERIVED_TABLES = ("records", "model_keys", "record_models", "record_inputs", "edges",
                  "model_hashes", "model_links", "record_vary", "vary_keys")
#: Tables of earlier index versions, dropped when a file of another version is opened.
_OLD_TABLES = ("record_source", "model_uses")

#: Bytes a page. A capture adds a row to each index; where the keys are
#: random (ids, digests) each of those rows dirties a page of its own, which
#: the WAL then holds and the checkpoint writes again: smaller pages, fewer
#: bytes written a capture (measured, ``bench/bench_index_writes.py``: 240 KB
#: a one-image capture with 4 KiB pages, 80 KB with 1 KiB), whatever the size
#: of the store; the trees are a level deeper.
PAGE_SIZE = 1024

#: Page cache of a connection, in KiB (SQLite's default is 2 MiB): a batch of
#: captures dirties a page of each random-keyed index for each record (256
#: records: about 4 MiB of 1 KiB pages); while they fit, a page is written to
#: the WAL once a transaction. At 256 a batch 8 and 32 MiB wrote the same; at
#: ``add``'s 1,024, 8 MiB wrote 3% more than 24 MiB and read 70% more (from
#: the OS's cache). Pages are allocated as used, and a whole-store read
#: (``log --json``) fills at most this: 8 MiB keeps those reads small.
CACHE_KIB = 8 * 1024


def connect(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """Open the index database (WAL: readers never block the writer)."""
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    conn.execute(f"PRAGMA page_size={PAGE_SIZE}")  # a new file only; see ``prepare``
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    return conn


def prepare(conn: sqlite3.Connection) -> bool:
    """Make the tables of this version; returns whether the file held another
    version's (or an unversioned) index, whose rows are gone: rebuild it."""
    version = _version(conn)
    if version == "10":
        _from_10(conn)
        version = _version(conn)
    if version == str(INDEX_VERSION):
        conn.executescript(SCHEMA)
        return False
    has_records = _has_table(conn, "records") and conn.execute(
        "SELECT 1 FROM records LIMIT 1").fetchone() is not None
    if version is None and not has_records:
        conn.executescript(SCHEMA)
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (str(INDEX_VERSION),))
        return False
    with conn:
        conn.execute("BEGIN")
        if _has_table(conn, "output_prints"):
            conn.execute("ALTER TABLE output_prints RENAME TO old_prints")
            for name in _indexes_of(conn, "old_prints"):
                conn.execute(f'DROP INDEX "{name}"')
        for table in (*DERIVED_TABLES, *_OLD_TABLES):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
        for statement in SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        if _has_table(conn, "old_prints"):
            conn.executemany("INSERT OR REPLACE INTO output_prints VALUES (?,?,?)",
                             _blob_prints(conn.execute(
                                 "SELECT output, pixels, print FROM old_prints").fetchall()))
            conn.execute("DROP TABLE old_prints")
    _repage(conn)
    return True


def _from_10(conn: sqlite3.Connection) -> None:
    """Version 10 to 11 in place, no rebuild: ``records.unsettled`` marks the
    records whose readiness their model versions on disk do not settle (captured
    below full, a model known by no version, no model at all), which ``repro
    status`` verifies in full; found once here by a pass over the tables, then
    kept as records are written, and read through a partial index (a pass over a
    million records took ``status`` 0.3 s of its time). ``SCHEMA`` then makes the
    new indexes."""
    with conn:
        conn.execute("BEGIN IMMEDIATE")  # another process may be moving it too
        if _version(conn) != "10":
            return
        conn.execute("ALTER TABLE records ADD COLUMN unsettled INTEGER NOT NULL DEFAULT 0")
        conn.execute(
            "UPDATE records SET unsettled = 1 WHERE level IS NOT 'full' "
            "OR n NOT IN (SELECT record FROM record_models) OR n IN (SELECT m.record FROM "
            "record_models m JOIN model_keys k ON k.key = m.key WHERE k.blake3 = x'')")
        conn.execute("UPDATE meta SET value = ? WHERE key = 'version'", (str(INDEX_VERSION),))


def _repage(conn: sqlite3.Connection) -> None:
    """Give an emptied file of another version this version's page size (WAL
    mode fixes it: leave WAL, vacuum, go back). Where another connection is
    open the file keeps its pages: it works the same, writing more."""
    if conn.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE:
        return
    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    try:
        if conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0] == "delete":
            conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
            conn.execute("VACUUM")
    except sqlite3.OperationalError:
        pass  # busy: another reader
    conn.execute(f"PRAGMA journal_mode={mode}")


def _blob_prints(rows: Iterable[tuple[object, object, object]]
                 ) -> Iterator[tuple[bytes, bytes | None, object]]:
    """Fingerprint rows of an earlier version (hex text) in this version's spelling."""
    for output, pixels, fingerprint in rows:
        key = as_blob(output) if isinstance(output, str) else output
        if isinstance(key, bytes):
            yield key, as_blob(pixels) if isinstance(pixels, str) else None, fingerprint


def _version(conn: sqlite3.Connection) -> str | None:
    if not _has_table(conn, "meta"):
        return None
    row = conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
    return None if row is None else str(row[0])


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (name,)).fetchone() is not None


def _indexes_of(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
        "AND sql IS NOT NULL", (table,))]


# -- ids: hex outside, raw bytes inside ------------------------------------------

def as_blob(value: object) -> bytes | None:
    """The bytes of a hex digest (any case), or None for anything else (no
    stored value matches None: a look-up of garbage finds nothing)."""
    if not isinstance(value, str) or not value or len(value) % 2:
        return None
    try:
        return bytes.fromhex(value)
    except ValueError:
        return None


def prefix_range(prefix: str) -> tuple[bytes, bytes | None] | None:
    """``(low, high)`` such that an id starting with the hex ``prefix`` is ``>= low``
    and ``< high`` as bytes (high None: no bound); None when ``prefix`` is not hex."""
    prefix = prefix.lower()
    if not prefix or any(c not in "0123456789abcdef" for c in prefix):
        return None
    low = bytes.fromhex(prefix + "0" * (len(prefix) % 2))
    head = prefix.rstrip("f")
    if not head:
        return low, None
    upper = head[:-1] + "0123456789abcdef"[int(head[-1], 16) + 1]
    return low, bytes.fromhex(upper + "0" * (len(upper) % 2))


# -- variation digests: 8 bytes each, keys numbered ---------------------------------

def pack_vary(digests: Mapping[str, str], number: Mapping[str, int]) -> bytes:
    """``{key: 16-hex digest}`` as (key number as a varint, 8 digest bytes) pairs."""
    out = bytearray()
    for key, digest in digests.items():
        n = number[key]
        while n >= 0x80:
            out.append((n & 0x7F) | 0x80)
            n >>= 7
        out.append(n)
        out += bytes.fromhex(digest)
    return bytes(out)


def unpack_vary(data: bytes, key_of: Mapping[int, str]) -> dict[str, str]:
    """``pack_vary`` undone, ``key_of`` naming the key numbers."""
    return {key_of[n]: digest.hex() for n, digest in _read_vary(data)}


def vary_numbers(data: bytes) -> list[int]:
    """The key numbers a packed variation map holds (to look their names up)."""
    return [n for n, _ in _read_vary(data)]


def _read_vary(data: bytes) -> Iterator[tuple[int, bytes]]:
    i = 0
    while i < len(data):
        n = shift = 0
        while True:
            byte = data[i]
            i += 1
            n |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        yield n, data[i:i + 8]
        i += 8
