"""Which numbering the lineage index's record numbers belong to.

``records.n`` is given in the order records are indexed, never reused, and kept
when a record is indexed again; only a rebuild (or a new file) numbers them anew.
A number kept elsewhere (a push's high-water mark: every record up to it is on a
remote) holds only within one numbering, so the index names its numbering (the
``epoch`` in ``meta``): a rebuild writes a new one before it numbers a record; a
new file has none until someone keeps a mark against it.

Reading writes nothing (a push that fails leaves the index as it was); the epoch
of a new file is made only once a mark is kept (``claim``), and only if no
rebuild made one meanwhile.
"""

from __future__ import annotations

import sqlite3
import uuid

_NEW = "lower(hex(randomblob(16)))"


def new_numbering(conn: sqlite3.Connection) -> None:
    """Name a new numbering (in the caller's transaction, before records are numbered)."""
    conn.execute(f"INSERT OR REPLACE INTO meta VALUES ('epoch', {_NEW})")


def numbers_after_mark(conn: sqlite3.Connection, marked: str | None,
                       mark: int) -> tuple[str, int, list[tuple[int, str]]]:
    """The numbering's epoch ("" when the file has none yet), the last number given,
    and the records numbered after ``mark`` (kept under the numbering ``marked``), each
    id with its number, in order. A mark of another numbering (the index was rebuilt
    since) says nothing: then every record is read."""
    epoch, last, numbered = _numbers_after(conn, mark)
    if mark and epoch != marked:
        epoch, last, numbered = _numbers_after(conn, 0)
    return epoch, last, numbered


def _numbers_after(conn: sqlite3.Connection, mark: int) -> tuple[str, int, list[tuple[int, str]]]:
    """The epoch, the last number and the records after ``mark``, read in one snapshot
    so the three agree."""
    with conn:
        conn.execute("BEGIN")
        row = conn.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
        (last,) = conn.execute("SELECT coalesce(max(n), 0) FROM records").fetchone()
        numbered = [(int(n), rid.hex()) for n, rid in conn.execute(
            "SELECT n, id FROM records WHERE n > ? AND n <= ? ORDER BY n", (mark, last))]
    return (str(row[0]) if row else ""), int(last), numbered


def claim(conn: sqlite3.Connection, seen: str) -> str:
    """The epoch to keep a mark under, for numbers read when the epoch was ``seen``:
    ``seen`` itself (should a rebuild have made another since, the mark is never
    trusted); for a file that had none, one made now, unless a rebuild made one
    meanwhile (a rebuild names its numbering first): then "", keep no mark."""
    if seen:
        return seen
    mine = uuid.uuid4().hex
    conn.execute("INSERT OR IGNORE INTO meta VALUES ('epoch', ?)", (mine,))
    row = conn.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
    return mine if row and row[0] == mine else ""
