"""Packs: a batch's small objects in one file, read through ``ObjectStore`` like
loose ones; removed from, merged, damaged and salvaged without losing an object
that should stay."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from repro.errors import ChecksumMismatch, NotFound
from repro.objects import batching, packs
from repro.objects.hashing import hash_bytes
from repro.objects.store import ObjectStore


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(tmp_path / "objects", tmp_path / "tmp")


def _blobs(n: int, seed: int = 0) -> list[bytes]:
    return [bytes([seed]) + os.urandom(10 + 37 * i) for i in range(n)]


def _loose_files(store: ObjectStore) -> list[Path]:
    return [p for p in store.objects_dir.rglob("*") if p.is_file() and p.parent.name != "pack"]


def _pack_files(store: ObjectStore) -> list[Path]:
    return sorted((store.objects_dir / "pack").glob("*.pack"))


def test_a_batch_of_small_objects_is_one_pack_read_like_loose_objects(
        store: ObjectStore) -> None:
    blobs = _blobs(40)
    big = os.urandom(batching.PACK_MAX_OBJECT + 1)
    with store.batch():
        ids = [store.put_bytes(b, group=i % 2) for i, b in enumerate(blobs)]
        big_id = store.put_bytes(big)
        # Readable before the batch is over, from the pack being written.
        assert store.read_bytes(ids[7]) == blobs[7]
        assert ids[3] in store
    assert len(_pack_files(store)) == 1
    assert _loose_files(store) == [store.path(big_id)]  # too large to pack
    assert list(store.tmp_dir.iterdir()) == []
    for oid, data in zip(ids, blobs, strict=True):
        assert oid in store
        assert store.read_bytes(oid) == data
        assert store.size(oid) == len(data)
        with store.open(oid) as f:
            assert f.read() == data
        store.check(oid)
        assert store.loose_path(oid) is None
    assert list(store) == sorted({*ids, big_id})
    assert os.stat(_pack_files(store)[0]).st_mode & 0o777 == 0o444


def test_a_batch_that_does_not_pack_writes_loose_objects(store: ObjectStore) -> None:
    blobs = _blobs(5)
    with store.batch(pack=False):
        ids = [store.put_bytes(b, made_from=hash_bytes(b"an output")) for b in blobs]
        assert not store.packing
    assert _pack_files(store) == []
    assert sorted(p.parent.name + p.name for p in _loose_files(store)) == sorted(ids)


def test_loose_and_packed_ids_are_listed_once_in_id_order(store: ObjectStore) -> None:
    blobs = _blobs(20)
    loose = store.put_bytes(blobs[0])  # outside a batch: loose
    with store.batch():
        packed = [store.put_bytes(b) for b in blobs]  # blobs[0] is not stored twice
    assert store.loose_path(loose) is not None
    assert list(store) == sorted(set(packed))
    assert packed[0] == loose


def test_sizes_walk_loose_and_packed_objects_as_the_ids_are_listed(store: ObjectStore) -> None:
    blobs = _blobs(30)
    loose = {store.put_bytes(b): len(b) for b in blobs[:5]}
    with store.batch():
        first = {store.put_bytes(b): len(b) for b in blobs[3:18]}
    with store.batch():
        second = {store.put_bytes(b): len(b) for b in blobs[15:]}
    (store.objects_dir / next(iter(loose))[:2] / "not-an-object").write_bytes(b"x")
    both = max(second)  # also loose, as a crash between a pack and a cleanup may leave it
    (store.objects_dir / both[:2]).mkdir(exist_ok=True)
    (store.objects_dir / both[:2] / both[2:]).write_bytes(blobs[15 + list(second).index(both)])
    assert len(_pack_files(store)) == 2
    expected = sorted({**loose, **first, **second}.items())
    assert list(store.sizes()) == expected
    assert [(oid, store.size(oid)) for oid in store] == expected


def test_remove_rewrites_the_pack_without_the_objects(store: ObjectStore) -> None:
    ids = store.put_many(_blobs(30))
    gone, kept = set(ids[:10]), ids[10:]
    assert store.remove(gone) == 10
    assert len(_pack_files(store)) == 1
    for oid in gone:
        assert oid not in store
        with pytest.raises(NotFound):
            store.read_bytes(oid)
    for oid in kept:
        store.check(oid)
    # A second store object (another process) sees the same.
    other = ObjectStore(store.objects_dir, store.tmp_dir)
    assert list(other) == sorted(kept)


def test_many_packs_are_merged_and_no_object_is_lost(store: ObjectStore) -> None:
    ids = []
    for n in range(batching.MOST_PACKS + 3):
        ids += store.put_many(_blobs(3, seed=n))
    assert len(_pack_files(store)) <= batching.MOST_PACKS
    assert list(store) == sorted(set(ids))
    for oid in ids:
        store.check(oid)


def test_a_failed_batch_leaves_nothing(store: ObjectStore) -> None:
    with pytest.raises(RuntimeError), store.batch():
        ids = [store.put_bytes(b) for b in _blobs(20)]
        raise RuntimeError("stop")
    assert not any(oid in store for oid in ids)
    assert _pack_files(store) == [] and list(store.tmp_dir.iterdir()) == []


def test_a_changed_byte_in_a_packed_object_is_caught_and_set_aside(
        store: ObjectStore, tmp_path: Path) -> None:
    blobs = _blobs(20)
    ids = store.put_many(blobs)
    pack = _pack_files(store)[0]
    data = bytearray(pack.read_bytes())
    at = data.index(blobs[5]) + 3
    data[at] ^= 0xFF
    os.chmod(pack, 0o644)
    pack.write_bytes(bytes(data))
    store = ObjectStore(store.objects_dir, store.tmp_dir)
    with pytest.raises(ChecksumMismatch):
        store.check(ids[5])
    with pytest.raises(ChecksumMismatch):
        store.materialize(ids[5], tmp_path / "out")
    assert not (tmp_path / "out").exists()
    aside = tmp_path / "aside"
    store.set_aside(ids[5], aside)
    assert ids[5] not in store
    assert hash_bytes(aside.read_bytes()) != ids[5]
    for oid in ids[:5] + ids[6:]:
        store.check(oid)


def test_a_pack_cut_short_is_reported_and_salvaged(store: ObjectStore, tmp_path: Path) -> None:
    blobs = _blobs(20)
    ids = store.put_many(blobs)
    pack = _pack_files(store)[0]
    data = pack.read_bytes()
    os.chmod(pack, 0o644)
    pack.write_bytes(data[:data.index(blobs[12]) + 5])  # a crash never leaves this
    store = ObjectStore(store.objects_dir, store.tmp_dir)
    assert store.damaged_packs() == {pack.name: "no trailer (cut short)"}
    assert ids[0] not in store
    kept = store.salvage_pack(pack.name, tmp_path / "damaged.pack")
    assert kept == 12
    assert store.damaged_packs() == {}
    assert [oid in store for oid in ids] == [True] * 12 + [False] * 8
    assert (tmp_path / "damaged.pack").is_file()


def test_a_damaged_table_is_told_by_its_checksum(store: ObjectStore) -> None:
    store.put_many(_blobs(20))
    pack = _pack_files(store)[0]
    data = bytearray(pack.read_bytes())
    data[-packs.TRAILER - 5] ^= 0x01  # inside the table
    os.chmod(pack, 0o644)
    pack.write_bytes(bytes(data))
    other = ObjectStore(store.objects_dir, store.tmp_dir)
    assert other.damaged_packs() == {pack.name: "its table does not match its checksum"}


def test_packed_objects_materialize_and_lend_a_file(store: ObjectStore, tmp_path: Path) -> None:
    blobs = _blobs(20)
    ids = store.put_many(blobs)
    store.materialize(ids[4], tmp_path / "x" / "out.bin", mode="hardlink")  # copies
    assert (tmp_path / "x" / "out.bin").read_bytes() == blobs[4]
    with store.as_file(ids[9]) as path:
        assert path.read_bytes() == blobs[9]
    assert not path.exists()
    assert store.age(ids[0]) == pytest.approx(os.stat(_pack_files(store)[0]).st_mtime, abs=5)


def test_a_pack_links_what_was_made_from_what(store: ObjectStore) -> None:
    outputs = store.put_many(_blobs(4, seed=1))
    with store.batch():
        assert store.packing
        thumbs = [store.put_bytes(b"thumbnail of " + o.encode(), made_from=o) for o in outputs]
    assert [store.made_of(o) for o in outputs] == thumbs
    assert sorted(store.links()) == sorted(zip(outputs, thumbs, strict=True))
    assert store.made_of(thumbs[0]) is None
    # Dropping a thumbnail drops its link; the others stay, through merges too.
    store.remove([thumbs[0]])
    assert store.made_of(outputs[0]) is None and store.made_of(outputs[1]) == thumbs[1]
    for n in range(batching.MOST_PACKS + 1):
        store.put_many(_blobs(2, seed=10 + n))
    other = ObjectStore(store.objects_dir, store.tmp_dir)
    assert [other.made_of(o) for o in outputs] == [None, *thumbs[1:]]
