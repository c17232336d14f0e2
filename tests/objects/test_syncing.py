"""A group of files is synced one by one until that costs what a syncfs did."""

from __future__ import annotations

from pathlib import Path

import pytest

from repro.objects import syncing
from repro.objects.syncing import Syncer


@pytest.fixture
def syncer(monkeypatch: pytest.MonkeyPatch) -> tuple[Syncer, list[Path]]:
    s = Syncer()
    calls: list[Path] = []

    def fake_syncfs(folder: Path) -> bool:
        calls.append(folder)
        return True

    monkeypatch.setattr(s, "syncfs", fake_syncfs)
    return s, calls


def test_a_small_group_is_synced_file_by_file_until_a_syncfs_was_measured(
        syncer: tuple[Syncer, list[Path]], tmp_path: Path) -> None:
    s, calls = syncer
    synced: list[int] = []
    assert s.sync_each(list(range(10)), synced.append, tmp_path) is False
    assert synced == list(range(10)) and calls == []


def test_a_large_group_takes_one_syncfs(syncer: tuple[Syncer, list[Path]],
                                        tmp_path: Path) -> None:
    s, calls = syncer
    synced: list[int] = []
    assert s.sync_each(list(range(syncing.SYNCFS_MIN_FILES)), synced.append, tmp_path)
    assert synced == [] and calls == [tmp_path]


def test_file_by_file_stops_once_it_cost_what_a_syncfs_did(
        syncer: tuple[Syncer, list[Path]], tmp_path: Path) -> None:
    s, calls = syncer
    s.syncfs_seconds = 0.0
    synced: list[int] = []

    def slow(item: int) -> None:
        synced.append(item)

    assert s.sync_each(list(range(10)), slow, tmp_path)
    assert len(synced) <= 1 and calls == [tmp_path]


def test_syncfs_measures_itself(tmp_path: Path) -> None:
    s = Syncer()
    assert s.syncfs(tmp_path)
    assert s.syncfs_seconds is not None and s.syncfs_seconds >= 0
