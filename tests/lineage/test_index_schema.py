"""The index's spelling (ids as bytes inside, hex outside) and the move from
an index of an earlier version: rebuilt from the records, fingerprints kept."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from repro.api.repository import Repository
from repro.lineage.index import INDEX_VERSION, Index, connect
from repro.lineage.index_schema import as_blob, pack_vary, prefix_range, unpack_vary
from tests.helpers import record_of, run, run_json
from tests.lineage.scenario import build

#: The tables of index version 8 that matter here: hex text ids, the
#: fingerprints keyed by the output's hex.
VERSION_8 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE records (id TEXT PRIMARY KEY, output TEXT NOT NULL, output_sha256 TEXT,
    path TEXT, captured_at TEXT, tool TEXT, level TEXT, seed TEXT, summary BLOB);
CREATE TABLE record_source (record TEXT PRIMARY KEY, parameters TEXT,
    derived INTEGER NOT NULL DEFAULT 0, pixels_md5 TEXT);
CREATE TABLE model_uses (blake3 TEXT NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL,
    role TEXT NOT NULL, uses INTEGER NOT NULL, PRIMARY KEY (blake3, name, path, role))
    WITHOUT ROWID;
CREATE TABLE output_prints (output TEXT PRIMARY KEY, pixels TEXT, print INTEGER) WITHOUT ROWID;
CREATE INDEX output_prints_pixels ON output_prints(pixels);
CREATE INDEX output_prints_p0 ON output_prints((print >> 48) & 65535);
INSERT INTO meta VALUES ('version', '8');
"""


def test_an_index_of_version_8_is_rebuilt_and_keeps_its_fingerprints(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sc = build(tmp_path)
    assert run(capsys, "-C", tmp_path, "init")[0] == 0
    added = run_json(capsys, "-C", tmp_path, "add", "outputs", "--no-env")["records"]
    ids = sorted(r["id"] for r in added)
    repo = Repository.discover(tmp_path)
    before_log = [r["id"] for r in run_json(capsys, "-C", tmp_path, "log")]
    up = repo.resolve_target(str(sc.upscaled))
    ancestors = repo.index.ancestors(up.id)
    output = repo.load_record(ids[0]).output.blake3
    repo.close()
    db = tmp_path / ".repro" / "index.sqlite"
    conn = sqlite3.connect(db)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND "
                                "name != 'stat_cache'").fetchall():
        conn.execute(f"DROP TABLE {name}")
    conn.executescript(VERSION_8)
    with conn:
        conn.execute("INSERT INTO records (id, output) VALUES (?, ?)", (ids[0], output))
        conn.execute("INSERT INTO output_prints VALUES (?, ?, ?)", (output, "ab" * 32, -5))
    conn.close()

    repo = Repository.discover(tmp_path)
    assert repo.index.count() == len(ids)
    assert repo.index.ancestors(up.id) == ancestors
    assert repo.index.outputs_with_pixels("AB" * 32) == [output]
    assert repo.index.prints() == ([output], [(1 << 64) - 5])
    assert repo.conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0] \
        == str(INDEX_VERSION)
    repo.close()
    assert [r["id"] for r in run_json(capsys, "-C", tmp_path, "log")] == before_log
    code, out, _ = run(capsys, "-C", tmp_path, "fsck", "--json")
    assert code == 0, out


def test_ids_are_hex_outside_and_prefixes_find_them() -> None:
    index = Index(sqlite3.connect(":memory:", isolation_level=None))
    records = [record_of({"output": {"blake3": f"{n:064x}"},
                          "captured": {"at": f"2025-01-01T00:00:{n:02d}Z"}}) for n in range(40)]
    index.load(records)
    for record in records:
        rid = record.id
        assert index.ids_with_prefix(rid[:7], 50) == sorted(
            r.id for r in records if r.id.startswith(rid[:7]))
        assert index.ids_with_prefix(rid.upper()[:6], 1)[0].startswith(rid[:6])
        assert index.record_for_output(record.output.blake3) == rid
    assert index.ids_with_prefix("xyz123") == []
    assert index.record_for_output("not hex") is None
    assert sorted(index.all_ids()) == sorted(r.id for r in records)


@pytest.mark.parametrize("prefix", ["0", "9", "a", "f", "ff", "1f", "abc", "fff0f", "9f9"])
def test_a_prefix_range_holds_exactly_the_ids_that_start_with_it(prefix: str) -> None:
    low, high = prefix_range(prefix) or (b"", None)
    for probe in ("0" * 64, "9" * 64, "a" * 64, "f" * 64, prefix + "0" * (64 - len(prefix)),
                  prefix + "f" * (64 - len(prefix)), "a0" + "f" * 62, "fa" + "0" * 62):
        value = as_blob(probe)
        assert value is not None
        inside = value >= low and (high is None or value < high)
        assert inside == probe.startswith(prefix), probe


def test_variation_maps_pack_and_unpack() -> None:
    digests = {f"key {n}": f"{n * 7919:016x}" for n in range(300)}
    numbers = {key: n * 131 for n, key in enumerate(digests)}
    packed = pack_vary(digests, numbers)
    assert unpack_vary(packed, {n: key for key, n in numbers.items()}) == digests


def test_an_old_index_gets_this_versions_page_size(tmp_path: Path) -> None:
    from repro.lineage.index_schema import PAGE_SIZE, connect

    db = tmp_path / "index.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA page_size=4096")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(VERSION_8)
    conn.execute("INSERT INTO records (id, output) VALUES (?, ?)", ("1" * 64, "2" * 64))
    conn.commit()
    conn.close()
    index = Index(connect(db))
    assert index.stale
    assert index.conn.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE
    assert index.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert index.count() == 0


def test_a_part_probe_with_near_keeps_only_the_close_fingerprints() -> None:
    import random

    from repro.lineage.perceptual import to_signed

    rng = random.Random(9)
    index = Index(sqlite3.connect(":memory:", isolation_level=None))
    q = rng.getrandbits(64)
    # Same highest 16 bits as q, the other bits 0 to 40 away.
    rows = [q ^ sum(1 << b for b in rng.sample(range(48), n)) for n in range(0, 41, 2)]
    index.add_prints((f"{i:064x}", None, to_signed(p)) for i, p in enumerate(rows))
    every = index.prints_with_part(0, [q >> 48])
    assert sorted(p for _, p in every) == sorted(rows)
    close = index.prints_with_part(0, [q >> 48], near=([q], 10))
    assert sorted(p for _, p in close) == sorted(p for p in rows if (p ^ q).bit_count() <= 10)
    assert {o for o, _ in close} <= {o for o, _ in every}


def _unsettled_mix() -> list[Any]:
    """Records ``status`` verifies in full (below full, a model of no known version,
    no model) and one whose models settle it (full, every version known)."""
    def rec(n: int, level: str, models: list[dict[str, Any]]) -> Any:
        return record_of({"output": {"blake3": f"{n:064x}"}, "models": models,
                          "reproducibility": {"level": level, "reasons": []}})
    known = {"role": "checkpoint", "name": "base.safetensors", "blake3": "3" * 64}
    return [rec(1, "full", [known]), rec(2, "approximate", [known]),
            rec(3, "full", [known, {"role": "lora", "name": "gone.safetensors"}]),
            rec(4, "full", [])]


def test_an_index_of_version_10_is_moved_in_place_and_marks_the_unsettled(
        tmp_path: Path) -> None:
    records = _unsettled_mix()
    path = tmp_path / "index.sqlite"
    index = Index(connect(path))
    index.load(records)
    unsettled = {r.id for r in records[1:]}
    assert index.records_to_verify() == unsettled
    # the same file as version 10 wrote it: no column, no new indexes
    for name in ("records_unsettled", "record_inputs_looked_at"):
        index.conn.execute(f"DROP INDEX {name}")
    index.conn.execute("ALTER TABLE records DROP COLUMN unsettled")
    index.conn.execute("UPDATE meta SET value = '10' WHERE key = 'version'")
    index.conn.close()

    index = Index(connect(path))
    assert not index.stale and index.count() == len(records)  # moved, not to be rebuilt
    assert index.conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone() == (
        str(INDEX_VERSION),)
    assert index.records_to_verify() == unsettled
    plan = " ".join(str(r) for r in index.conn.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM records WHERE unsettled = 1"))
    assert "records_unsettled" in plan
    index.load([records[0]])  # written again: still settled
    assert index.records_to_verify() == unsettled
