"""Contract tests for the object store, run against every store mode."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from repro.errors import ChecksumMismatch, NotFound
from repro.objects.hashing import hash_bytes, hash_file
from repro.objects.store import ObjectStore

MODES = ["copy", "reflink", "hardlink"]


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(tmp_path / "objects", tmp_path / "tmp")


def make(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / "src" / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


def test_put_bytes_is_content_addressed(store: ObjectStore) -> None:
    oid = store.put_bytes(b"hello")
    assert oid == hash_bytes(b"hello")
    assert oid in store
    assert store.read_bytes(oid) == b"hello"
    assert store.path(oid).parent.name == oid[:2]
    assert store.put_bytes(b"hello") == oid
    assert list(store) == [oid]


def test_objects_are_read_only(store: ObjectStore) -> None:
    oid = store.put_bytes(b"x" * 100)
    mode = store.path(oid).stat().st_mode
    assert not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


@pytest.mark.parametrize("mode", MODES)
def test_put_file_and_materialize_round_trip(store: ObjectStore, tmp_path: Path,
                                             mode: str) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    src = make(tmp_path, "model.safetensors", data)
    oid = store.put_file(src, mode=mode)
    assert oid == hash_file(src) == hash_bytes(data)
    assert oid in store
    dest = tmp_path / "restored" / "model.safetensors"
    store.materialize(oid, dest, mode=mode)
    assert dest.read_bytes() == data
    store.check(oid)


def test_reference_mode_stores_nothing(store: ObjectStore, tmp_path: Path) -> None:
    src = make(tmp_path, "m.bin", b"abc" * 1000)
    oid = store.put_file(src, mode="reference")
    assert oid == hash_bytes(b"abc" * 1000)
    assert oid not in store


def test_known_id_skips_reading(store: ObjectStore, tmp_path: Path) -> None:
    src = make(tmp_path, "m.bin", b"data" * 100)
    oid = store.put_file(src)
    os.chmod(src, 0)  # unreadable: a read would fail
    try:
        if os.geteuid() == 0:
            src.unlink()  # root reads anything: prove it by removing the file instead
        assert store.put_file(src, known=oid) == oid
    finally:
        if src.exists():
            os.chmod(src, 0o644)


def test_check_detects_a_flipped_byte(store: ObjectStore) -> None:
    oid = store.put_bytes(b"precious model bytes")
    path = store.path(oid)
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ChecksumMismatch) as info:
        store.check(oid)
    assert info.value.expected == oid
    with pytest.raises(ChecksumMismatch):
        store.read_bytes(oid)


def test_materialize_refuses_corrupt_object_and_keeps_dest(store: ObjectStore,
                                                           tmp_path: Path) -> None:
    oid = store.put_bytes(b"version one")
    path = store.path(oid)
    os.chmod(path, 0o644)
    path.write_bytes(b"version two")
    dest = tmp_path / "dest.bin"
    dest.write_bytes(b"user's file")
    with pytest.raises(ChecksumMismatch):
        store.materialize(oid, dest)
    assert dest.read_bytes() == b"user's file"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("tmp-")]


def test_ids_that_are_not_hex_never_become_paths(store: ObjectStore) -> None:
    for bad in ["../../etc/passwd", "a" * 63, "A" * 64, "g" * 64, "", "ab/" + "c" * 61]:
        with pytest.raises(ValueError):
            store.path(bad)
        assert bad not in store


def test_missing_object(store: ObjectStore, tmp_path: Path) -> None:
    oid = hash_bytes(b"never stored")
    with pytest.raises(NotFound):
        store.open(oid)
    with pytest.raises(NotFound):
        store.materialize(oid, tmp_path / "x")


def test_hardlink_mode_shares_the_inode_and_detects_in_place_edit(store: ObjectStore,
                                                                  tmp_path: Path) -> None:
    src = make(tmp_path, "lora.safetensors", b"weights" * 1000)
    oid = store.put_file(src, mode="hardlink")
    assert os.stat(src).st_ino == store.path(oid).stat().st_ino
    assert not os.stat(src).st_mode & stat.S_IWUSR  # made read-only
    os.chmod(src, 0o644)
    with open(src, "r+b") as f:  # a tool editing the model in place
        f.write(b"EDITED")
    with pytest.raises(ChecksumMismatch):
        store.check(oid)


def test_failed_copy_leaves_no_temp_file(store: ObjectStore, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    src = make(tmp_path, "m.bin", b"z" * 10_000)

    def broken(*args: object, **kwargs: object) -> tuple[str, int]:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("repro.objects.copying.copy_and_hash", broken)
    with pytest.raises(OSError):
        store.put_file(src)
    assert list((tmp_path / "tmp").iterdir()) == []
    assert list(store) == []


def test_a_file_written_to_while_it_is_stored_is_refused(store: ObjectStore, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from repro.errors import InputError
    from repro.objects import copying

    src = make(tmp_path, "model.safetensors", b"v1" * 50_000)
    real = copying.copy_and_hash

    def meddling(fin: object, dst: object, *args: object, **kwargs: object) -> object:
        result = real(fin, dst, *args, **kwargs)  # type: ignore[arg-type]
        with open(src, "r+b") as f:  # another program writes into the model meanwhile
            f.write(b"v2")
        return result

    monkeypatch.setattr(copying, "copy_and_hash", meddling)
    with pytest.raises(InputError, match="changed while it was stored"):
        store.put_file(src)
    assert list(store) == []
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_materialize_honours_the_umask_like_cp(store: ObjectStore, tmp_path: Path,
                                               umask: int) -> None:
    """Issue 12 item 13: a checked-out model is not left 0600 (mkstemp's mode)."""
    oid = store.put_bytes(b"model bytes")
    before = os.umask(umask)
    try:
        store.materialize(oid, tmp_path / "out" / "model.safetensors")
    finally:
        os.umask(before)
    assert stat.S_IMODE((tmp_path / "out" / "model.safetensors").stat().st_mode) == 0o666 & ~umask


@pytest.mark.parametrize("mode", ["copy", "hardlink"])
def test_a_new_fan_out_folder_is_synced_in_its_parent(store: ObjectStore, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      mode: str) -> None:
    """An object's folder made for it is an entry of ``objects/``: without a sync of
    ``objects/`` a power cut can lose the folder, and the object in it, after the
    record naming it is durable."""
    import repro.objects.loose as loose
    import repro.objects.store as store_module

    synced: list[Path] = []

    def watched(path: str | os.PathLike[str]) -> None:
        synced.append(Path(path))

    monkeypatch.setattr(store_module, "fsync_dir", watched)
    monkeypatch.setattr(loose, "fsync_dir", watched)
    first = store.put_file(make(tmp_path, "a.bin", b"first"), mode=mode)
    assert synced == [store.path(first).parent, store.objects_dir]
    synced.clear()
    sibling = next(data for data in (i.to_bytes(4, "big") for i in range(1 << 20))
                   if hash_bytes(data).startswith(first[:2]))
    store.put_file(make(tmp_path, "b.bin", sibling), mode=mode)
    assert synced == [store.path(first).parent]  # the folder was there: only it changed
