"""Segments merged away are deleted from the remote a grace period later, on a real
folder remote; a reader that read HEAD before they went reads it again and loses
nothing (a second process); a segment HEAD still names is damage, not a merge."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from repro.api.remote import remote_spec
from repro.errors import RemoteError, RemoteIndexDamaged
from repro.remote import check as rcheck
from repro.remote import index as rindex
from repro.remote.folder import FolderRemote
from repro.remote.s3 import S3Remote
from tests.remote.conftest import S3Engine
from tests.remote.test_index import _push, _records


def _stored_segments(nas: FolderRemote) -> set[str]:
    return {p.name for p in (nas.root / "index" / "seg").iterdir()}


@pytest.fixture
def nas(tmp_path: Path) -> FolderRemote:
    (tmp_path / "nas").mkdir()
    return FolderRemote(tmp_path / "nas")


def test_merged_segments_stay_through_the_grace_period(nas: FolderRemote,
                                                       tmp_path: Path) -> None:
    for n in range(rindex.FANOUT + 2):
        _push(nas, tmp_path / "a.sqlite", n)
    head = rindex.read_head(nas)
    retired = {seg for seg, _ in head.retired}
    assert len(retired) == rindex.FANOUT  # the sixteen the merge replaced, kept for readers
    assert retired <= _stored_segments(nas)
    assert not retired & {e.seg for e in head.entries}


def test_merged_segments_are_deleted_from_an_s3_remote(
        s3_env: S3Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rindex, "RETIRE_GRACE", 0.0)
    bucket = s3_env.new_bucket()
    remote = S3Remote(remote_spec("origin", f"s3://{bucket}/studio", endpoint=s3_env.endpoint))
    pushed = {_push(remote, tmp_path / "a.sqlite", n) for n in range(rindex.FANOUT + 1)}
    head = rindex.read_head(remote)
    stored = {o["Key"].rsplit("/", 1)[1] for o in s3_env.client().list_objects_v2(
        Bucket=bucket, Prefix="studio/index/seg/")["Contents"]}
    assert head.retired == [] and stored == {e.seg for e in head.entries}
    assert _records(remote, tmp_path / "fresh.sqlite") == pushed


def test_merged_segments_are_deleted_after_the_grace_period(
        nas: FolderRemote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rindex, "RETIRE_GRACE", 0.0)
    pushed = {_push(nas, tmp_path / "a.sqlite", n) for n in range(rindex.FANOUT)}
    head = rindex.read_head(nas)
    assert len(head.entries) == 1 and len(head.retired) == rindex.FANOUT
    assert len(_stored_segments(nas)) == rindex.FANOUT + 1  # not deleted by the merge itself
    pushed.add(_push(nas, tmp_path / "a.sqlite", rindex.FANOUT))  # the next HEAD move deletes
    head = rindex.read_head(nas)
    assert head.retired == []
    assert _stored_segments(nas) == {e.seg for e in head.entries}
    assert _records(nas, tmp_path / "fresh.sqlite") == pushed
    assert rcheck.check(nas).damaged == {}  # (the made-up packs it names are not there)


READER = r"""
import json, sys
from pathlib import Path
from repro.remote import index as rindex
from repro.remote.folder import FolderRemote
from repro.remote.s3 import S3Remote

remote = FolderRemote(sys.argv[1])
head = rindex.read_head(remote)
print(json.dumps({"entries": len(head.entries)}), flush=True)
sys.stdin.readline()  # the other process merges and deletes meanwhile
index = rindex.sync(remote, Path(sys.argv[2]), head)
print(json.dumps({"records": index.cache.records_since(0),
                  "entries": len(index.head.entries)}), flush=True)
"""


def test_a_reader_of_an_older_head_reads_it_again_when_its_segments_are_gone(
        nas: FolderRemote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rindex, "RETIRE_GRACE", 0.0)
    pushed = {_push(nas, tmp_path / "a.sqlite", n) for n in range(3)}
    reader = subprocess.Popen([sys.executable, "-c", READER, str(nas.root),
                               str(tmp_path / "reader.sqlite")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert reader.stdin and reader.stdout
    assert json.loads(reader.stdout.readline()) == {"entries": 3}  # it has read HEAD
    old = set(_stored_segments(nas))
    pushed |= {_push(nas, tmp_path / "a.sqlite", n) for n in range(3, rindex.FANOUT + 1)}
    assert not old & _stored_segments(nas)  # every segment the reader's HEAD names is gone
    rest, _ = reader.communicate("go\n", timeout=60)
    assert reader.returncode == 0
    got = json.loads(rest)
    assert set(got["records"]) == pushed and got["entries"] == 2


def test_a_segment_head_still_names_is_damage_not_a_merge(nas: FolderRemote,
                                                          tmp_path: Path) -> None:
    for n in range(3):
        _push(nas, tmp_path / "a.sqlite", n)
    lost = rindex.read_head(nas).entries[1].seg
    (nas.root / rindex.segment_key(lost)).unlink()
    with pytest.raises(RemoteIndexDamaged, match=f"segment {lost} is missing"):
        rindex.sync(nas, tmp_path / "b.sqlite")
    found = rcheck.check(nas)
    assert list(found.damaged) == [lost]


def test_a_repair_retires_the_segments_it_rewrites(nas: FolderRemote, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(3):  # segments naming packs and models that are not there
        _push(nas, tmp_path / "a.sqlite", n)
    old = [e.seg for e in rindex.read_head(nas).entries]
    assert rcheck.repair(nas, rcheck.check(nas)).repaired
    head = rindex.read_head(nas)
    assert [seg for seg, _ in head.retired] == old and not set(old) & {e.seg for e in head.entries}
    assert set(old) <= _stored_segments(nas)  # kept through the grace period
    monkeypatch.setattr(rindex, "RETIRE_GRACE", 0.0)
    _push(nas, tmp_path / "a.sqlite", 3)
    assert not set(old) & _stored_segments(nas)
    assert rindex.read_head(nas).retired == []


class NoDeletes(FolderRemote):
    """A remote that takes writes and refuses deletes, as a bucket whose policy allows
    PutObject and not DeleteObject does."""

    asked = 0

    def delete(self, key: str) -> None:
        self.asked += 1
        raise RemoteError(f"the S3 endpoint refused the credentials for {self.root} "
                          "(AccessDenied)")


def test_a_remote_that_refuses_deletes_fails_no_push(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rindex, "RETIRE_GRACE", 0.0)
    (tmp_path / "nas").mkdir()
    nas = NoDeletes(tmp_path / "nas")
    pushed = {_push(nas, tmp_path / "a.sqlite", n) for n in range(rindex.FANOUT + 1)}
    assert nas.asked == 1  # asked once, not sixteen times
    head = rindex.read_head(nas)
    assert head.retired == []  # forgotten, left on the remote as before deletion existed
    assert len(_stored_segments(nas)) == rindex.FANOUT + 2
    assert _records(nas, tmp_path / "fresh.sqlite") == pushed


def test_in_a_burst_of_pushes_the_oldest_retired_segments_go_before_the_hour(
        nas: FolderRemote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rindex, "MAX_RETIRED", rindex.FANOUT)
    pushed = {_push(nas, tmp_path / "a.sqlite", n) for n in range(rindex.FANOUT)}
    first = {seg for seg, _ in rindex.read_head(nas).retired}
    pushed |= {_push(nas, tmp_path / "a.sqlite", n)
               for n in range(rindex.FANOUT, 2 * rindex.FANOUT + 1)}
    head = rindex.read_head(nas)
    assert len(head.retired) == rindex.FANOUT and not first & {s for s, _ in head.retired}
    assert not first & _stored_segments(nas)  # within the hour, but beyond the bound
    assert _records(nas, tmp_path / "fresh.sqlite") == pushed
