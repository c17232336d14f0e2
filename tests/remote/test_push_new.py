"""A push without targets sends what was indexed since the last push, reading only
that (the remote's local index keeps how far it got); and stays right when the
remote was replaced, when others pushed, and when the local index was rebuilt."""

from __future__ import annotations

import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import orjson
import pytest

from repro.api.push import clone, pull, push
from repro.api.remote import add_remote
from repro.api.repository import Repository
from repro.objects.store import ObjectStore
from repro.record import SCHEMA, from_bytes
from repro.remote.index_cache import IndexCache
from tests.helpers import record_bytes


def _add_records(repo: Repository, first: int, n: int, *, model: str | None = None) -> list[str]:
    """``n`` records, each with an output and a metadata blob of its own (and the model
    version ``model``, when given), indexed."""
    records = []
    with repo.store.batch():
        for i in range(first, first + n):
            output = repo.store.put_bytes(f"output {i}".encode() * 50)
            blob = repo.store.put_bytes(orjson.dumps({"prompt": {"seed": i}}))
            raw = record_bytes({
                "schema": SCHEMA, "tool": {"name": "comfyui"}, "params": {"seed": i},
                "output": {"blake3": output, "path": f"out/{i:05d}.png", "size": 1000},
                "source": {"format": "comfyui-png", "blobs": {"prompt": blob}},
                "captured": {"at": "2026-12-06T12:00:00Z"},
                "models": [{"role": "checkpoint", "blake3": model}] if model else []})
            records.append(from_bytes(raw, id=repo.store.put_bytes(raw, group=1)))
    repo.index.add_many(records)
    return [r.id for r in records]


def _store(root: Path, remote: Path) -> Repository:
    """A new store at ``root`` whose remote ``origin`` is the folder ``remote`` (made
    when it is not there)."""
    remote.mkdir(exist_ok=True)
    repo = Repository.init(root)
    add_remote(repo, "origin", str(remote))
    return repo


def _on_remote(remote: Path, tmp_path: Path) -> set[str]:
    """The records a fresh clone of ``remote`` gets."""
    dest = tmp_path / f"check-{len(list(tmp_path.iterdir()))}"
    return set(clone(str(remote), dest, models=False).transfer.records)


class _Work:
    """What a push reads: local objects opened or statted, ids looked up in the
    remote's local index, and SQLite steps on the lineage index (a progress handler
    called every 100 virtual-machine instructions)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, repo: Repository):
        self.counts: Counter[str] = Counter()
        for name in ("read_bytes", "size", "open", "__contains__"):
            self._count(monkeypatch, ObjectStore, name, "objects")
        rows_for = IndexCache._rows_for

        def looked_up(cache: IndexCache, query: str, ids: object) -> object:
            ids = list(ids)  # type: ignore[call-overload]
            self.counts["ids looked up"] += len(ids)
            return rows_for(cache, query, ids)

        monkeypatch.setattr(IndexCache, "_rows_for", looked_up)
        repo.index.conn.set_progress_handler(self._step, 100)

    def _count(self, monkeypatch: pytest.MonkeyPatch, cls: type, name: str, what: str) -> None:
        original = getattr(cls, name)

        def counted(*args: object, **kw: object) -> object:
            self.counts[what] += 1
            return original(*args, **kw)

        monkeypatch.setattr(cls, name, counted)

    def _step(self) -> int:
        self.counts["sqlite steps"] += 1
        return 0


def _work_of_pushing_new(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int,
                         new: int, *, every: bool = False) -> Counter[str]:
    repo = _store(tmp_path / f"store{size}", tmp_path / f"nas{size}")
    _add_records(repo, 0, size)
    push(repo, "origin")
    fresh = _add_records(repo, size, new)
    with monkeypatch.context() as patch:
        work = _Work(patch, repo)
        done = push(repo, "origin", all=every)
    repo.index.conn.set_progress_handler(None, 0)
    assert sorted(done.transfer.records) == sorted(fresh)
    return work.counts


def test_a_push_of_new_records_reads_the_same_on_a_store_ten_times_larger(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    small = _work_of_pushing_new(tmp_path, monkeypatch, 150, 10)
    large = _work_of_pushing_new(tmp_path, monkeypatch, 1500, 10)
    # the 10 new records, their outputs and blobs: looked up and read, nothing older
    assert small["ids looked up"] == large["ids looked up"] <= 10 * 4
    assert small["objects"] == large["objects"] <= 10 * 3 * 3
    assert large["sqlite steps"] <= small["sqlite steps"] * 1.5 + 10
    # the control: a push of every record (--all) looks each one up
    every = _work_of_pushing_new(tmp_path, monkeypatch, 1501, 10, every=True)
    assert every["ids looked up"] >= 1511 and every["sqlite steps"] > large["sqlite steps"] * 5


def test_two_stores_pushing_in_turn_leave_every_record_on_the_remote(tmp_path: Path) -> None:
    nas = tmp_path / "nas"
    a, b = _store(tmp_path / "a", nas), _store(tmp_path / "b", nas)
    mine = _add_records(a, 0, 5)
    push(a, "origin")
    theirs = _add_records(b, 100, 4)
    assert sorted(push(b, "origin").transfer.records) == sorted(theirs)
    mine += _add_records(a, 5, 3)  # the remote's log moved on since a's last push
    assert sorted(push(a, "origin").transfer.records) == sorted(mine[5:])
    theirs += _add_records(b, 104, 2)
    assert sorted(push(b, "origin").transfer.records) == sorted(theirs[4:])
    assert push(a, "origin").transfer.records == []
    assert _on_remote(nas, tmp_path) == {*mine, *theirs}


def test_a_remote_emptied_or_replaced_gets_every_record_again(tmp_path: Path) -> None:
    nas = tmp_path / "nas"
    repo = _store(tmp_path / "a", nas)
    ids = _add_records(repo, 0, 6)
    push(repo, "origin")
    shutil.rmtree(nas)  # a new share mounted at the same place
    nas.mkdir()
    assert sorted(push(repo, "origin").transfer.records) == sorted(ids)
    assert _on_remote(nas, tmp_path) == set(ids)


def _lose_from_index_and_rebuild(repo: Repository, ids: list[str]) -> None:
    """The index loses ``ids`` (a capture stopped between store and index: the
    store kept them), then is rebuilt from the store."""
    conn = sqlite3.connect(repo.root / ".repro" / "index.sqlite")
    with conn:
        conn.executemany("DELETE FROM records WHERE id = ?", [(bytes.fromhex(r),) for r in ids])
    conn.close()
    repo.rebuild_index()


def test_a_record_the_index_learns_at_a_rebuild_is_pushed(tmp_path: Path) -> None:
    """A record object the index did not list (a capture stopped between the two) gets,
    at the rebuild, a number at or below the last push's mark: the rebuild starts a new
    numbering, and the next push walks every record again."""
    nas = tmp_path / "nas"
    repo = _store(tmp_path / "a", nas)
    ids = _add_records(repo, 0, 8)
    push(repo, "origin")
    more = _add_records(repo, 8, 8)
    _lose_from_index_and_rebuild(repo, more)
    assert sorted(push(repo, "origin").transfer.records) == sorted(more)
    assert _on_remote(nas, tmp_path) == {*ids, *more}


def test_a_push_without_models_then_with_them_sends_the_models(tmp_path: Path) -> None:
    nas = tmp_path / "nas"
    repo = _store(tmp_path / "a", nas)
    ids = _add_records(repo, 0, 3)
    push(repo, "origin", models=False)
    assert push(repo, "origin", models=False).transfer.records == []
    # the records went without their models: a push with them walks them again
    assert sorted(push(repo, "origin").transfer.records) == sorted(ids)
    assert push(repo, "origin").transfer.records == []


def _work_of_pushing_after_a_clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   size: int, *, forget_mark: bool = False) -> Counter[str]:
    """A store of ``size`` records pushed, cloned; the clone captures one record and
    pushes: what that push reads (``forget_mark``: the clone's mark dropped first, as
    a clone left it before it kept one)."""
    nas = tmp_path / f"nas{size}"
    _add_records(_store(tmp_path / f"store{size}", nas), 0, size)
    push(Repository(tmp_path / f"store{size}"), "origin")
    clone(str(nas), tmp_path / f"clone{size}")
    repo = Repository(tmp_path / f"clone{size}")
    if forget_mark:
        cache = IndexCache(repo.dot / "remotes" / "origin" / "index.sqlite")
        cache.db.execute("DELETE FROM meta WHERE key = 'pushed'")
        cache.close()
    fresh = _add_records(repo, size, 1)
    with monkeypatch.context() as patch:
        work = _Work(patch, repo)
        done = push(repo, "origin")
    repo.index.conn.set_progress_handler(None, 0)
    assert done.transfer.records == fresh
    assert _on_remote(nas, tmp_path) >= set(fresh)
    return work.counts


def test_the_first_push_after_a_clone_reads_only_the_new_record(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    small = _work_of_pushing_after_a_clone(tmp_path, monkeypatch, 100)
    large = _work_of_pushing_after_a_clone(tmp_path, monkeypatch, 1000)
    assert small["ids looked up"] == large["ids looked up"] <= 4
    assert small["objects"] == large["objects"] <= 3 * 3
    assert large["sqlite steps"] <= small["sqlite steps"] * 1.5 + 10
    # the control: without the mark the clone keeps, the push looks up every record
    walked = _work_of_pushing_after_a_clone(tmp_path, monkeypatch, 1001, forget_mark=True)
    assert walked["ids looked up"] >= 1002


def _model_on_remote(nas: Path, tmp_path: Path, model: str) -> bool:
    """Whether a clone (with models) of ``nas`` gets the model version ``model``."""
    dest = tmp_path / f"check-{len(list(tmp_path.iterdir()))}"
    clone(str(nas), dest)
    return model in Repository(dest).store


def test_a_no_models_clone_of_a_remote_without_models_then_a_push_sends_them(
        tmp_path: Path) -> None:
    nas = tmp_path / "nas"
    a = _store(tmp_path / "a", nas)
    model_bytes = b"weights " * 40_000
    model = a.store.put_bytes(model_bytes)
    ids = _add_records(a, 0, 3, model=model)
    push(a, "origin", models=False)
    clone(str(nas), tmp_path / "b", models=False)
    b = Repository(tmp_path / "b")
    assert push(b, "origin", models=False).transfer.records == []
    b.store.put_bytes(model_bytes)  # the model file reaches this machine
    done = push(b, "origin")
    assert sorted(done.transfer.records) == sorted(ids) and done.transfer.objects == 1
    assert _model_on_remote(nas, tmp_path, model)


def test_a_no_models_clone_of_a_remote_with_models_keeps_them_there(tmp_path: Path) -> None:
    nas = tmp_path / "nas"
    a = _store(tmp_path / "a", nas)
    model = a.store.put_bytes(b"weights " * 40_000)
    _add_records(a, 0, 3, model=model)
    push(a, "origin")
    clone(str(nas), tmp_path / "b", models=False)
    b = Repository(tmp_path / "b")
    assert model not in b.store
    fresh = _add_records(b, 3, 1, model=model)
    done = push(b, "origin")  # the model is on the remote: nothing to send but the record
    assert done.transfer.records == fresh and done.transfer.unavailable == []
    assert _model_on_remote(nas, tmp_path, model)


def test_a_pull_does_not_hide_the_records_captured_here_from_the_next_push(
        tmp_path: Path) -> None:
    nas = tmp_path / "nas"
    a = _store(tmp_path / "a", nas)
    _add_records(a, 0, 4)
    push(a, "origin")
    clone(str(nas), tmp_path / "b")
    b = Repository(tmp_path / "b")
    mine = _add_records(b, 100, 3)  # captured here, numbered before what the pull brings
    theirs = _add_records(a, 4, 5)
    push(a, "origin")
    assert sorted(pull(b, "origin").transfer.records) == sorted(theirs)
    assert sorted(push(b, "origin").transfer.records) == sorted(mine)
    assert _on_remote(nas, tmp_path) >= {*mine, *theirs}


def test_a_pull_of_records_only_others_made_moves_the_mark(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nas = tmp_path / "nas"
    a, b = _store(tmp_path / "a", nas), _store(tmp_path / "b", nas)
    _add_records(b, 100, 2)
    push(b, "origin")
    theirs = _add_records(a, 0, 50)
    push(a, "origin")
    assert sorted(pull(b, "origin").transfer.records) == sorted(theirs)
    with monkeypatch.context() as patch:
        work = _Work(patch, b)
        assert push(b, "origin").transfer.records == []
    b.index.conn.set_progress_handler(None, 0)
    assert work.counts["ids looked up"] == 0 and work.counts["objects"] == 0


def test_a_pull_after_the_index_was_rebuilt_does_not_trust_the_old_mark(
        tmp_path: Path) -> None:
    """The rebuild numbers the records anew (the clone's mark held for the old
    numbers): the pull after it walks from the start and stops at the first record
    the remote does not list, so the push still sends those made here."""
    nas = tmp_path / "nas"
    a = _store(tmp_path / "a", nas)
    _add_records(a, 0, 20)
    push(a, "origin")
    clone(str(nas), tmp_path / "b")
    b = Repository(tmp_path / "b")
    mine = _add_records(b, 100, 20)
    _lose_from_index_and_rebuild(b, mine)
    assert pull(b, "origin").transfer.records == []
    assert sorted(push(b, "origin").transfer.records) == sorted(mine)
