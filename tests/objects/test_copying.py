"""The large-file copy pipeline: read once, hash, write behind (direct or buffered)."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from repro.objects import copying
from repro.objects.hashing import hash_bytes
from repro.objects.store import ObjectStore

KIB = 1024


@pytest.fixture
def small_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pipeline sizes scaled down so that a few hundred KiB cross every boundary."""
    monkeypatch.setattr(copying, "PIPELINE_MIN", 64 * KIB)
    monkeypatch.setattr(copying, "CHUNK", 64 * KIB)
    monkeypatch.setattr(copying, "WRITEBACK_WINDOW", 128 * KIB)


def copy(tmp_path: Path, data: bytes, *, skip: int = 0) -> tuple[str, int, bytes]:
    src, dst = tmp_path / "src.bin", tmp_path / "dst.bin"
    src.write_bytes(data)
    with open(src, "rb", buffering=0) as fin, open(dst, "wb") as fout:
        fin.seek(skip)
        oid, n = copying.copy_and_hash(fin, fout, len(data) - skip)
        fout.flush()
        os.fsync(fout.fileno())
    return oid, n, dst.read_bytes()


@pytest.mark.usefixtures("small_pipeline")
@pytest.mark.parametrize("size", [64 * KIB, 64 * KIB * 5, 64 * KIB * 5 + 4096, 64 * KIB * 7 + 3,
                                  64 * KIB * 3 - 1])
def test_pipeline_copies_and_hashes_every_size(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    oid, n, written = copy(tmp_path, data)
    assert (oid, n) == (hash_bytes(data), size)
    assert written == data


@pytest.mark.usefixtures("small_pipeline")
def test_pipeline_starts_where_the_source_is(tmp_path: Path) -> None:
    data = os.urandom(64 * KIB * 3 + 100)
    oid, n, written = copy(tmp_path, data, skip=100)
    assert (oid, n, written) == (hash_bytes(data[100:]), len(data) - 100, data[100:])


@pytest.mark.usefixtures("small_pipeline")
def test_pipeline_writes_direct_where_the_filesystem_allows(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole blocks bypass the page cache; the tail that is not goes buffered."""
    modes: list[bool] = []
    real = copying._pwrite_all

    def spy(fd: int, data: memoryview, offset: int) -> None:
        modes.append(_is_direct(fd))
        real(fd, data, offset)

    monkeypatch.setattr(copying, "_pwrite_all", spy)
    probe = tmp_path / "probe"
    with open(probe, "wb") as f:
        if not copying._set_direct(f.fileno(), True):
            pytest.skip("this filesystem refuses O_DIRECT")
    data = os.urandom(64 * KIB * 4 + 10)
    oid, _, written = copy(tmp_path, data)
    assert (oid, written) == (hash_bytes(data), data)
    assert modes[:4] == [True] * 4  # the whole chunks
    assert modes[-1] is False  # the 10-byte tail
    dst = tmp_path / "dst.bin"
    with open(dst, "rb") as f:
        assert not _is_direct(f.fileno())


def _is_direct(fd: int) -> bool:
    import fcntl

    return bool(fcntl.fcntl(fd, fcntl.F_GETFL) & getattr(os, "O_DIRECT", 0))


@pytest.mark.usefixtures("small_pipeline")
def test_pipeline_without_direct_io_writes_through_the_page_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ranges: list[tuple[int, int, int]] = []
    fn = copying._sync_file_range()
    if not fn:
        pytest.skip("no sync_file_range on this platform")

    def recording(fd: int, offset: int, n: int, flags: int) -> int:
        ranges.append((offset, n, flags))
        return int(fn(fd, offset, n, flags))

    monkeypatch.setattr(copying, "_set_direct", lambda fd, on: False)
    monkeypatch.setattr(copying, "_sync_file_range", lambda: recording)
    data = os.urandom(64 * KIB * 6)
    oid, _, written = copy(tmp_path, data)
    assert (oid, written) == (hash_bytes(data), data)
    # Every chunk is sent to disk as written; the writer waits for the range a window behind.
    assert [o for o, _, f in ranges if f == copying._SYNC_FILE_RANGE_WRITE] == [
        i * 64 * KIB for i in range(6)]
    assert [o for o, _, f in ranges if f == copying._SYNC_FILE_RANGE_WAIT] == [
        i * 64 * KIB for i in range(4)]


@pytest.mark.usefixtures("small_pipeline")
def test_a_device_refusing_the_direct_write_gets_it_buffered(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = copying._pwrite_all
    refused: list[int] = []

    def picky(fd: int, data: memoryview, offset: int) -> None:
        if _is_direct(fd):
            refused.append(offset)
            raise OSError(errno.EINVAL, "Invalid argument")
        real(fd, data, offset)

    monkeypatch.setattr(copying, "_pwrite_all", picky)
    data = os.urandom(64 * KIB * 3 + 5)
    oid, _, written = copy(tmp_path, data)
    assert (oid, written) == (hash_bytes(data), data)
    assert len(refused) <= 1  # asked once, then buffered for the rest


@pytest.mark.usefixtures("small_pipeline")
def test_a_write_error_stops_the_read_and_reaches_the_caller(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[int] = []
    reads: list[int] = []
    real_write, real_read = copying._pwrite_all, copying._read_full

    def fills_up(fd: int, data: memoryview, offset: int) -> None:
        writes.append(offset)
        if len(writes) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(fd, data, offset)

    def counting(fd: int, buf: Any, offset: int) -> int:
        reads.append(offset)
        return real_read(fd, buf, offset)

    monkeypatch.setattr(copying, "_pwrite_all", fills_up)
    monkeypatch.setattr(copying, "_read_full", counting)
    chunks = 40
    with pytest.raises(OSError) as info:
        copy(tmp_path, os.urandom(64 * KIB * chunks))
    assert info.value.errno == errno.ENOSPC
    # The reader stopped within a ring's length of the failure, not at the end.
    assert len(reads) <= 2 + copying.BUFFERS + 1 < chunks


@pytest.mark.usefixtures("small_pipeline")
@pytest.mark.parametrize("mode", ["copy", "reflink"])
def test_store_round_trips_a_large_file_through_the_pipeline(
        tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ObjectStore(tmp_path / "objects", tmp_path / "tmp")
    data = os.urandom(64 * KIB * 9 + 777)
    src = tmp_path / "model.safetensors"
    src.write_bytes(data)
    read = 0
    real = copying._read_full

    def counting(fd: int, buf: Any, offset: int) -> int:
        nonlocal read
        n = real(fd, buf, offset)
        read += n
        return n

    monkeypatch.setattr(copying, "_read_full", counting)
    oid = store.put_file(src, mode=mode)
    assert oid == hash_bytes(data)
    if mode == "copy":
        assert read == len(data)  # one read pass, hashing and copying alike
    assert store.path(oid).read_bytes() == data
    store.check(oid)
    dest = tmp_path / "restored" / "model.safetensors"
    store.materialize(oid, dest, mode=mode)
    assert dest.read_bytes() == data
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.usefixtures("small_pipeline")
@pytest.mark.parametrize("cores", [1, 2, 16])
def test_pipeline_hash_is_the_same_whatever_the_threads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cores: int) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    monkeypatch.setattr("repro.objects.hashing.THREADS_MIN_BYTES", 1)  # threads at this size
    data = os.urandom(64 * KIB * 5 + 9)
    src, dst = tmp_path / "src.bin", tmp_path / "dst.bin"
    src.write_bytes(data)
    with open(src, "rb", buffering=0) as fin, open(dst, "wb") as fout:
        oid, n = copying.copy_and_hash(fin, fout, len(data))
    assert (oid, n, dst.read_bytes()) == (hash_bytes(data), len(data), data)
