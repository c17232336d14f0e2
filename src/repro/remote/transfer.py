"""Moving what is missing between a local object store and a remote: what a push
and a pull share (the objects a record names, what a transfer moved) and the push.

Push: the records' objects (record, output, metadata blobs, inputs, the output's
thumbnail when the store has one and, unless asked not to, model versions) that
the remote index does not list; small ones packed (a pack per ~64 MiB, one
request each), large ones loose as multipart uploads; then one index segment
naming them all, published last. A push that stopped midway left packs and large
objects nobody lists: the next push makes the same packs (named by their bytes)
and finds them there, so only the rest moves. The pull is ``repro.remote.fetch``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repro.lineage.thumbnails import Thumbnails
from repro.objects.faults import checkpoint
from repro.objects.hashing import hash_bytes
from repro.objects.ids import is_id
from repro.objects.store import ObjectStore
from repro.record import Record, from_bytes
from repro.remote import index as rindex
from repro.remote.base import Remote
from repro.remote.segment import Location, new_segment


def bare_id(value: str | None) -> str | None:
    if not value:
        return None
    value = value.rsplit(":", 1)[-1].lower()
    return value if is_id(value) else None


def record_objects(record: Record, *, models: bool = True) -> list[str]:
    """The objects a record names: output, metadata blobs, inputs, model versions."""
    found = [record.output.blake3, *record.source.blobs.values(),
             *(i.blake3 for i in record.inputs)]
    if models:
        found += [m.blake3 for m in record.models]
    return [oid for oid in dict.fromkeys(bare_id(v) for v in found) if oid]


@dataclass
class Transfer:
    """What a push or pull moved."""

    records: list[str] = field(default_factory=list)
    objects: int = 0
    bytes: int = 0
    packs: int = 0
    large: int = 0
    #: packs and large objects already on the remote, not listed yet (left by a push
    #: that stopped before publishing): not sent again
    reused: int = 0
    #: objects a record names that are in neither store (a dropped model version)
    unavailable: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"records": self.records, "objects": self.objects, "bytes": self.bytes,
                "packs": self.packs, "large": self.large, "reused": self.reused,
                "unavailable": self.unavailable}


def push(store: ObjectStore, remote: Remote, record_ids: Iterable[str], *, cache: Path,
         models: bool = True, tags: Iterable[str] = (),
         thumbs: Thumbnails | None = None) -> Transfer:
    """Send the records the remote lacks with what they name; with ``thumbs``, their
    outputs' thumbnails too, named beside the outputs in the segment."""
    index = rindex.sync(remote, cache)
    try:
        return _push(store, remote, index, list(record_ids), models=models, tags=set(tags),
                     thumbs=thumbs)
    finally:
        index.close()


def _push(store: ObjectStore, remote: Remote, index: rindex.RemoteIndex, record_ids: list[str],
          *, models: bool, tags: set[str], thumbs: Thumbnails | None) -> Transfer:
    done = Transfer()
    on_remote = index.cache.record_states(record_ids)  # id -> sent with its models
    new_records = [rid for rid in record_ids
                   if not (on_remote.get(rid) or (not models and rid in on_remote))]
    wanted: dict[str, None] = {}
    thumb_of: dict[str, str] = {}  # output -> its thumbnail, for the segment
    for rid in new_records:
        record = from_bytes(store.read_bytes(rid), id=rid)
        for oid in [rid, *record_objects(record, models=models)]:
            wanted[oid] = None
        output = bare_id(record.output.blake3)
        thumb = thumbs.id_of(output) if thumbs is not None and output else None
        if output and thumb:
            thumb_of[output] = thumb
            wanted[thumb] = None
    listed = index.cache.locations(wanted)
    entries: dict[str, Location] = {}
    # records in packs of their own: a pull reads them first, and again when resumed
    records, others = _Packer(remote, entries, done), _Packer(remote, entries, done)
    chosen = set(new_records)
    for oid in (o for o in wanted if o not in listed):
        if oid not in store:
            done.unavailable.append(oid)
            continue
        size = store.size(oid)
        if size > rindex.PACK_MAX_OBJECT:
            _send_large(remote, store, oid, done)
            entries[oid] = (None, 0, size)
        else:
            (records if oid in chosen else others).add(oid, store.read_bytes(oid))
        done.objects += 1
    others.flush()
    records.flush()
    new_tags = tags - set(index.cache.tags())
    if entries or new_records or new_tags:
        rindex.publish(remote, index, new_segment(entries, new_records, new_tags,
                                                  partial=not models, thumbs=thumb_of))
    done.records = new_records
    return done


def _send_large(remote: Remote, store: ObjectStore, oid: str, done: Transfer) -> None:
    """One model file, multipart where the remote has it; one a push stopped after
    sending (not listed yet) is on the remote already and is not sent again, one it
    stopped in the middle of is resumed (S3: the parts that arrived are kept)."""
    key = rindex.object_key(oid)
    done.large += 1
    if remote.exists(key):
        done.reused += 1
        return
    with store.as_file(oid) as path:
        done.bytes += remote.put_file(key, path)
    checkpoint("push.sent")


class _Packer:
    """Small objects gathered into packs of about ``PACK_TARGET``, each sent when full.
    A pack is named by its bytes: a push stopped after sending one makes the same
    pack again, finds it on the remote and does not send it again."""

    def __init__(self, remote: Remote, entries: dict[str, Location], done: Transfer):
        self.remote, self.entries, self.done = remote, entries, done
        self.items: list[tuple[str, bytes]] = []
        self.size = 0

    def add(self, oid: str, data: bytes) -> None:
        self.items.append((oid, data))
        self.size += len(data)
        if self.size >= rindex.PACK_TARGET:
            self.flush()

    def flush(self) -> None:
        if not self.items:
            return
        data = b"".join(b for _, b in self.items)
        name = hash_bytes(data)
        offset = 0
        for oid, b in self.items:
            self.entries[oid] = (name, offset, len(b))
            offset += len(b)
        self.items, self.size = [], 0
        self.done.packs += 1
        if self.remote.exists(rindex.pack_key(name)):
            self.done.reused += 1
            return
        self.remote.put_if_absent(rindex.pack_key(name), data)
        self.done.bytes += len(data)
        checkpoint("push.sent")
