"""The remote's index: HEAD and segments on a real folder remote, the local SQLite
copy fed only from segments it has not applied, compaction by compare-and-swap."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from repro.api.repository import Repository
from repro.objects.hashing import hash_bytes
from repro.remote import index as rindex
from repro.remote.base import Remote
from repro.remote.folder import FolderRemote
from repro.remote.segment import Segment, new_segment
from tests.helpers import make_output, run, run_json


class CountingRemote(FolderRemote):
    """A folder remote that counts the index segments read from it."""

    segment_gets = 0

    def get(self, key: str) -> bytes:
        if key.startswith("index/seg/"):
            self.segment_gets += 1
        return super().get(key)


def _oid(n: int, kind: str = "o") -> str:
    return hash_bytes(f"{kind}{n}".encode())


def _push(remote: Remote, cache: Path, n: int, *, partial: bool = False) -> str:
    """What one push of record ``n`` publishes: the record, its output in a pack, a model."""
    record, pack = _oid(n, "r"), _oid(n, "p")
    objects: dict[str, rindex.Location] = {record: (pack, 0, 10), _oid(n): (pack, 10, 20),
                                           _oid(n, "m"): (None, 0, 1 << 30)}
    index = rindex.sync(remote, cache)
    try:
        rindex.publish(remote, index, new_segment(objects, [record], partial=partial))
    finally:
        index.close()
    return record


def _records(remote: Remote, cache: Path) -> set[str]:
    index = rindex.sync(remote, cache)
    try:
        return set(index.cache.records_since(0))
    finally:
        index.close()


@pytest.fixture
def nas(tmp_path: Path) -> CountingRemote:
    (tmp_path / "nas").mkdir()
    return CountingRemote(tmp_path / "nas")


def test_a_sync_reads_only_the_segments_it_has_not_applied(nas: CountingRemote,
                                                           tmp_path: Path) -> None:
    pushed = {_push(nas, tmp_path / "a.sqlite", n) for n in range(3)}
    reader = tmp_path / "b.sqlite"
    assert _records(nas, reader) == pushed
    before = nas.segment_gets
    pushed.add(_push(nas, tmp_path / "a.sqlite", 3))
    assert _records(nas, reader) == pushed
    assert nas.segment_gets == before + 1  # the new one, not the four
    assert _records(nas, reader) == pushed and nas.segment_gets == before + 1


def test_a_push_applies_its_own_segment_without_reading_it_back(
        nas: CountingRemote, tmp_path: Path) -> None:
    _push(nas, tmp_path / "a.sqlite", 0)
    before = nas.segment_gets
    _push(nas, tmp_path / "a.sqlite", 1)
    assert nas.segment_gets == before


def test_sixteen_pushes_merge_into_one_segment(nas: CountingRemote, tmp_path: Path) -> None:
    early = tmp_path / "early.sqlite"
    pushed = set()
    for n in range(rindex.FANOUT + 1):
        pushed.add(_push(nas, tmp_path / "a.sqlite", n))
        if n == 9:
            assert _records(nas, early) == pushed  # applied up to the middle of the merge
    head = rindex.read_head(nas)
    assert [(e.start, e.end) for e in head.entries] == [(0, rindex.FANOUT),
                                                        (rindex.FANOUT, rindex.FANOUT + 1)]
    merged = rindex.fetch_segment(nas, head.entries[0].seg)
    assert len(merged.records) == rindex.FANOUT and len(merged.objects) == 3 * rindex.FANOUT
    assert _records(nas, early) == pushed  # the merged segment re-applied changes nothing extra
    fresh = tmp_path / "fresh.sqlite"
    before = nas.segment_gets
    assert _records(nas, fresh) == pushed
    assert nas.segment_gets == before + 2
    index = rindex.sync(nas, fresh)
    assert index.cache.locations([_oid(3, "m")]) == {_oid(3, "m"): (None, 0, 1 << 30)}
    index.close()


def test_a_record_sent_with_its_models_stays_so_whatever_the_order(tmp_path: Path) -> None:
    partial = new_segment({}, ["a" * 64], partial=True)
    full = new_segment({}, ["a" * 64])
    for first, second in ((partial, full), (full, partial)):
        merged = Segment()
        merged.merge(first)
        merged.merge(second)
        assert merged.records == {"a" * 64} and not merged.partial


def test_a_deleted_cache_is_rebuilt(nas: CountingRemote, tmp_path: Path) -> None:
    cache = tmp_path / "a.sqlite"
    pushed = {_push(nas, cache, n) for n in range(3)}
    for f in tmp_path.glob("a.sqlite*"):
        f.unlink()
    assert _records(nas, cache) == pushed


def test_a_remote_emptied_and_pushed_to_again_is_not_mixed_with_the_old_one(
        nas: CountingRemote, tmp_path: Path) -> None:
    cache = tmp_path / "a.sqlite"
    for n in range(3):
        _push(nas, cache, n)
    for child in Path(nas.root).iterdir():
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    os.makedirs(nas.tmp)
    again = _push(nas, tmp_path / "other.sqlite", 7)
    assert _records(nas, cache) == {again}


def test_a_head_of_the_first_format_is_read(nas: CountingRemote, tmp_path: Path) -> None:
    segments = []
    for n in range(2):
        data = new_segment({_oid(n, "r"): (None, 0, 5)}, [_oid(n, "r")]).to_bytes()
        nas.put_if_absent(rindex.segment_key(hash_bytes(data)), data)
        segments.append(hash_bytes(data))
    nas.replace(rindex.HEAD, orjson.dumps({"format": 1, "segments": segments}), None)
    assert _records(nas, tmp_path / "a.sqlite") == {_oid(0, "r"), _oid(1, "r")}
    record = _push(nas, tmp_path / "a.sqlite", 5)  # the next push writes the new format
    head = rindex.read_head(nas)
    assert head.id and [(e.start, e.end) for e in head.entries] == [(0, 1), (1, 2), (2, 3)]
    assert _records(nas, tmp_path / "a.sqlite") == {_oid(0, "r"), _oid(1, "r"), record}


PUSH_EACH = """
import sys
from repro.cli import main
root, ids = sys.argv[1], sys.argv[2:]
for rid in ids:  # one push a record: one segment each
    code = main(["-C", root, "push", "nas", rid])
    if code:
        sys.exit(code)
"""


def test_two_machines_pushing_while_segments_merge_lose_nothing(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    nas = tmp_path / "nas"
    nas.mkdir()
    ids: dict[str, list[str]] = {}
    for name, seed in (("a", 300), ("b", 400)):
        root = tmp_path / name
        run(capsys, "init", root)
        paths = [make_output(root, f"{name}{i}.png", seed=seed + i, lora=None)
                 for i in range(rindex.FANOUT - 6)]
        ids[name] = [r["id"] for r in run_json(capsys, "-C", root, "add", *paths)["records"]]
        run(capsys, "-C", root, "remote", "add", "nas", nas)
    procs = [subprocess.Popen([sys.executable, "-c", PUSH_EACH, str(tmp_path / n), *ids[n]],
                              stderr=subprocess.PIPE, text=True) for n in ("a", "b")]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    head = rindex.read_head(FolderRemote(nas))
    assert head.total == 2 * (rindex.FANOUT - 6)  # every push has its place in the log
    assert len(head.entries) < head.total  # and sixteen of them were merged on the way
    run_json(capsys, "clone", nas, tmp_path / "c")
    assert set(Repository.discover(tmp_path / "c").index.iter_ids()) == {*ids["a"], *ids["b"]}
