"""Packs travel side by side while the push fills the next, a few at a time; a pack
that fails stops the push before anything is listed."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from repro.api.push import push
from repro.api.remote import add_remote
from repro.api.repository import Repository
from repro.errors import RemoteError
from repro.remote import packing
from repro.remote.folder import FolderRemote
from tests.remote.test_push_new import _add_records


class _Watched(FolderRemote):
    """A folder remote that holds each pack until another is on its way too (a
    barrier: packs sent one after the other would break it), counts the packs in
    flight, and refuses the pack numbered ``fail_at``."""

    def __init__(self, root: Path, fail_at: int | None = None):
        super().__init__(root)
        self.barrier = threading.Barrier(2, timeout=30)
        self.lock = threading.Lock()
        self.flying = self.most = self.started = 0
        self.fail_at = fail_at

    def put_if_absent(self, key: str, data: bytes) -> bool:
        if not key.startswith("packs/"):
            return super().put_if_absent(key, data)
        with self.lock:
            self.started += 1
            number = self.started
            self.flying += 1
            self.most = max(self.most, self.flying)
        try:
            if number <= 2:
                self.barrier.wait()
            if number == self.fail_at:
                raise RemoteError("the share went away")
            return super().put_if_absent(key, data)
        finally:
            with self.lock:
                self.flying -= 1


def _pushing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, remote: _Watched) -> Repository:
    monkeypatch.setattr(packing, "PACK_TARGET", 4096)  # a pack every few records
    monkeypatch.setattr("repro.api.push.open_remote", lambda spec: remote)
    repo = Repository.init(tmp_path / "a")
    add_remote(repo, "origin", str(remote.root))
    return repo


def test_packs_travel_side_by_side_and_never_more_than_senders(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "nas").mkdir()
    remote = _Watched(tmp_path / "nas")
    repo = _pushing(tmp_path, monkeypatch, remote)
    ids = _add_records(repo, 0, 60)
    done = push(repo, "origin").transfer
    assert sorted(done.records) == sorted(ids) and done.packs == remote.started > packing.SENDERS
    assert 2 <= remote.most <= packing.SENDERS
    assert len(list((tmp_path / "nas" / "packs").iterdir())) == done.packs


def test_a_pack_that_fails_stops_the_push_and_nothing_is_listed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "nas").mkdir()
    remote = _Watched(tmp_path / "nas", fail_at=3)
    repo = _pushing(tmp_path, monkeypatch, remote)
    ids = _add_records(repo, 0, 200)  # about 40 packs
    with pytest.raises(RemoteError, match="went away"):
        push(repo, "origin")
    assert not (tmp_path / "nas" / "index").exists()
    assert remote.started < 3 + 2 * packing.SENDERS  # it stopped filling packs soon after
    remote.fail_at = None
    again = push(repo, "origin").transfer  # the packs that arrived are not sent again
    assert sorted(again.records) == sorted(ids) and again.reused >= 2
