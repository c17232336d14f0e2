"""A group of files is synced side by side until that costs what a syncfs did."""

from __future__ import annotations

import threading
import time
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
    assert s.sync_each(list(range(40)), synced.append, tmp_path) is False
    assert sorted(synced) == list(range(40)) and calls == []


def test_the_fsyncs_of_a_group_wait_together(syncer: tuple[Syncer, list[Path]],
                                             tmp_path: Path) -> None:
    """Up to PARALLEL fsyncs run at once (the journal commits them together): one
    after the other, the barrier would never fill and would time out."""
    s, _ = syncer
    barrier = threading.Barrier(syncing.PARALLEL, timeout=10)
    synced: list[int] = []

    def sync_one(item: int) -> None:
        barrier.wait()
        synced.append(item)

    s.sync_each(list(range(syncing.PARALLEL)), sync_one, tmp_path)
    assert sorted(synced) == list(range(syncing.PARALLEL))


def test_a_failed_fsync_is_raised_once_every_thread_stopped(
        syncer: tuple[Syncer, list[Path]], tmp_path: Path) -> None:
    s, _ = syncer
    synced: list[int] = []

    def sync_one(item: int) -> None:
        if item == 3:
            raise OSError(5, "Input/output error")
        time.sleep(0.001)
        synced.append(item)

    with pytest.raises(OSError, match="Input/output"):
        s.sync_each(list(range(200)), sync_one, tmp_path)
    done = list(synced)
    time.sleep(0.05)
    assert synced == done and 3 not in done and len(done) < 199


def test_real_files_and_folders_are_synced(tmp_path: Path) -> None:
    files = []
    for n in range(5):
        (tmp_path / f"f{n}").write_bytes(b"x" * n)
        files.append(str(tmp_path / f"f{n}"))
    s = Syncer()
    assert s.sync_each(files, syncing.fsync_file, tmp_path) is False
    with pytest.raises(FileNotFoundError):
        s.sync_each([*files, str(tmp_path / "gone")], syncing.fsync_file, tmp_path)


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
        time.sleep(0.001)
        synced.append(item)

    assert s.sync_each(list(range(4 * syncing.PARALLEL)), slow, tmp_path)
    assert len(synced) <= syncing.PARALLEL and calls == [tmp_path]


def test_syncfs_measures_itself(tmp_path: Path) -> None:
    s = Syncer()
    assert s.syncfs(tmp_path)
    assert s.syncfs_seconds is not None and s.syncfs_seconds >= 0
