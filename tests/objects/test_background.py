"""A batch whose small temp files are written by a background thread keeps the
store's contract: every object whole and read-only once the batch is over,
nothing in place (and no temp file left) when a write failed."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from repro.objects import background
from repro.objects.hashing import hash_bytes
from repro.objects.store import ObjectStore


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(tmp_path / "objects", tmp_path / "tmp")


def test_a_background_batch_stores_every_object_read_only(store: ObjectStore) -> None:
    blobs = [os.urandom(n) for n in range(1, 600, 7)]
    big = os.urandom(background.MAX_BYTES + 1)  # written at once, not queued
    with store.batch(background=True):
        ids = [store.put_bytes(b, group=i % 2) for i, b in enumerate(blobs)]
        big_id = store.put_bytes(big)
        # An object of the batch can be read before the batch is over.
        with store.open(ids[5]) as f:
            assert f.read() == blobs[5]
        assert all(oid in store for oid in ids)
        assert not store.path(ids[0]).exists()  # in place only when the batch ends
    for oid, data in [*zip(ids, blobs, strict=True), (big_id, big)]:
        assert oid == hash_bytes(data)
        assert store.read_bytes(oid) == data
        assert not store.path(oid).stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert os.listdir(store.tmp_dir) == []


def test_a_failed_background_write_is_raised_and_leaves_nothing(
        store: ObjectStore, monkeypatch: pytest.MonkeyPatch) -> None:
    real = background.write_new_file
    written: list[str] = []

    def failing(name: str, data: bytes) -> None:
        if len(written) == 3:
            # As a full disk would: the file was created, then a write failed.
            with open(name, "wb") as f:
                f.write(data[:1])
            os.unlink(name)
            raise OSError(28, "No space left on device")
        real(name, data)
        written.append(name)

    monkeypatch.setattr(background, "write_new_file", failing)
    ids = []
    with pytest.raises(OSError, match="No space"), store.batch(background=True):
        for n in range(10):
            ids.append(store.put_bytes(f"object {n}".encode()))
    assert ids and not any(store.path(oid).exists() for oid in ids)
    assert os.listdir(store.tmp_dir) == []


def test_a_written_file_is_whole_or_absent(tmp_path: Path) -> None:
    name = str(tmp_path / "tmp-x")
    background.write_new_file(name, b"abc" * 1000)
    assert Path(name).read_bytes() == b"abc" * 1000
    with pytest.raises(FileExistsError):  # never over an existing file
        background.write_new_file(name, b"other")
    assert Path(name).read_bytes() == b"abc" * 1000
