"""BLAKE3 of files: the same digest however each chunk is read (map or ``read()``)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import blake3
import pytest

from repro.objects import hashing

KIB = 1024


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashing, "CHUNK", 64 * KIB)
    monkeypatch.setattr(hashing, "MAPPED_CHUNK", 192 * KIB)
    monkeypatch.setattr(hashing, "THREADS_MIN_BYTES", 128 * KIB)


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("speed", [0, 10**30], ids=["memory-speed", "disk-speed"])
def test_hash_file_is_blake3_whichever_way_chunks_are_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, speed: int) -> None:
    monkeypatch.setattr(hashing, "MEMORY_SPEED", speed)
    data = os.urandom(1000 * KIB + 7)
    path = tmp_path / "model.bin"
    path.write_bytes(data)
    seen: list[int] = []
    assert hashing.hash_file(path, seen.append) == blake3.blake3(data).hexdigest()
    assert sum(seen) == len(data)
    # From the map, chunks are MAPPED_CHUNK long; by read(), CHUNK long.
    assert max(seen) == (192 * KIB if speed == 0 else 64 * KIB)


@pytest.mark.usefixtures("small_chunks")
def test_hash_stream_hashes_what_is_left_and_leaves_the_file_at_its_end(tmp_path: Path) -> None:
    data = os.urandom(600 * KIB)
    path = tmp_path / "model.bin"
    path.write_bytes(data)
    with open(path, "rb", buffering=0) as f:
        f.seek(1000)
        assert hashing.hash_stream(f, len(data) - 1000) == blake3.blake3(data[1000:]).hexdigest()
        assert f.tell() == len(data)


@pytest.mark.usefixtures("small_chunks")
def test_a_stream_that_cannot_be_mapped_is_read() -> None:
    data = os.urandom(300 * KIB)
    r, w = os.pipe()

    def write() -> None:
        with open(w, "wb") as out:
            out.write(data)

    writer = threading.Thread(target=write)
    writer.start()
    with open(r, "rb", buffering=0) as f:
        assert hashing.hash_stream(f, len(data)) == blake3.blake3(data).hexdigest()
    writer.join()
