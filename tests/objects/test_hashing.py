"""BLAKE3 of files: the same digest however each chunk is read (map or ``read()``)."""

from __future__ import annotations

import os
import sys
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


def _hash_and_chunks(tmp_path: Path) -> int:
    """Hash a file of 1000 KiB + 7 bytes; the largest chunk it was hashed in."""
    data = os.urandom(1000 * KIB + 7)
    path = tmp_path / "model.bin"
    path.write_bytes(data)
    seen: list[int] = []
    assert hashing.hash_file(path, seen.append) == blake3.blake3(data).hexdigest()
    assert sum(seen) == len(data)
    return max(seen)


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("disk_per_call", [0, 10**9], ids=["page-cache", "disk"])
def test_where_a_chunk_came_from_decides_how_the_next_is_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, disk_per_call: int) -> None:
    """Bytes from disk (the kernel's count grows) keep ``read()``; from memory, the map.
    The clock is not asked: MEMORY_SPEED is set so that it would say the opposite."""
    monkeypatch.setattr(hashing, "MEMORY_SPEED", 10**30 if disk_per_call == 0 else 0)
    count = iter(range(0, 10**15, disk_per_call or 1))
    monkeypatch.setattr(hashing, "disk_read_bytes",
                        lambda: next(count) * (1 if disk_per_call else 0))
    # From the map, chunks are MAPPED_CHUNK long; by read(), CHUNK long.
    assert _hash_and_chunks(tmp_path) == (192 * KIB if disk_per_call == 0 else 64 * KIB)


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("speed", [0, 10**30], ids=["memory-speed", "disk-speed"])
def test_without_a_count_of_disk_reads_the_speed_decides(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, speed: int) -> None:
    monkeypatch.setattr(hashing, "MEMORY_SPEED", speed)
    monkeypatch.setattr(hashing, "disk_read_bytes", lambda: None)
    assert _hash_and_chunks(tmp_path) == (192 * KIB if speed == 0 else 64 * KIB)


def test_this_process_disk_reads_are_counted_where_the_kernel_counts_them(
        tmp_path: Path) -> None:
    count = hashing.disk_read_bytes()
    if not sys.platform.startswith("linux"):
        assert count is None
        return
    assert isinstance(count, int) and count >= 0
    path = tmp_path / "cold.bin"
    path.write_bytes(os.urandom(4 * 1024 * KIB))
    with open(path, "rb") as f:
        os.fsync(f.fileno())
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)  # out of the page cache
        before = hashing.disk_read_bytes()
        f.read()
    after = hashing.disk_read_bytes()
    assert before is not None and after is not None and after - before >= 2 * 1024 * KIB


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
