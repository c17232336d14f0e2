"""The flat-memory helpers fsck and gc walk a store with."""

from __future__ import annotations

from pathlib import Path

from repro.api.repository import Repository
from repro.api.store_walk import IdSet, IndexedIds
from tests.helpers import record_of


def test_id_set_behaves_as_a_set() -> None:
    ids = IdSet(["a" * 64, "b" * 64])
    ids.add("c" * 64)
    ids.update(["a" * 64, "d" * 64])
    assert all(i * 64 in ids for i in "abcd")
    assert "e" * 64 not in ids and 5 not in ids
    ids.close()


def test_indexed_ids_tell_records_the_index_lacks_and_index_rows_the_store_lacks(
        tmp_path: Path) -> None:
    repo = Repository.init(tmp_path)
    records = [record_of({"output": {"blake3": f"{n:064x}"}}) for n in range(6)]
    repo.index.load(records[1:5])
    ids = sorted(r.id for r in records)
    indexed = sorted(r.id for r in records[1:5])
    walk = IndexedIds(repo)
    in_store = [i for i in ids if i not in indexed[:1]]  # one indexed record is gone
    for rid in in_store:
        walk.see(rid)
    assert walk.not_indexed == sorted({r.id for r in (records[0], records[5])})
    assert walk.rest() == indexed[:1]
    assert walk.error is None
