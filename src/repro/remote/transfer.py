"""Moving what is missing between a local object store and a remote: what a push
and a pull share (the objects a record names, what a transfer moved) and the push.

Push: the records' objects (record, output, metadata blobs, inputs, the output's
thumbnail when the store has one and, unless asked not to, model versions) that
the remote index does not list, read a thousand records at a time; small ones
packed (``packing``: a request a pack, a few packs on their way while the next is
filled), large ones loose as multipart uploads; then one index segment
naming them all, published last. A push that stopped midway left packs and large
objects nobody lists: the next push makes the same packs (named by their bytes)
and finds them there, so only the rest moves. The pull is ``repro.remote.fetch``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from repro.errors import ChecksumMismatch, NotFound
from repro.lineage.thumbnails import Thumbnails
from repro.objects.faults import checkpoint
from repro.objects.hashing import hash_bytes
from repro.objects.ids import is_id
from repro.objects.store import ObjectStore
from repro.record import Record, from_bytes
from repro.remote import index as rindex
from repro.remote.base import Remote
from repro.remote.packing import Packer, PackSender
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


def push(store: ObjectStore, remote: Remote, index: rindex.RemoteIndex,
         record_ids: list[str], *, models: bool, tags: set[str],
         thumbs: Thumbnails | None, outputs: Iterable[str] = ()) -> Transfer:
    """Send the records the remote's index (synced) lacks with what they name; with
    ``thumbs``, their outputs' thumbnails too, named beside the outputs in the
    segment. ``outputs``: outputs of records the remote may have already, whose
    thumbnails it may lack (pushed by older code, or made here since): those this
    store has are added."""
    done = Transfer()
    on_remote = index.cache.record_states(record_ids)  # id -> sent with its models
    new_records = [rid for rid in record_ids
                   if not (on_remote.get(rid) or (not models and rid in on_remote))]
    with PackSender(remote) as sender:
        sending = _Sending(store, remote, index, sender, done, models=models, thumbs=thumbs)
        for start in range(0, len(new_records), _RECORDS_AT_ONCE):
            sending.records(new_records[start:start + _RECORDS_AT_ONCE])
        if thumbs is not None:
            sending.thumbnails(thumbs, outputs)
        sending.finish()
    done.bytes += sender.bytes
    done.packs, done.reused = sender.packs, done.reused + sender.reused
    new_tags = tags - set(index.cache.tags())
    if sending.entries or new_records or new_tags or sending.thumb_of:
        rindex.publish(remote, index, new_segment(sending.entries, new_records, new_tags,
                                                  partial=not models, thumbs=sending.thumb_of))
    done.records = new_records
    return done


#: Records read, checked and packed per round (one look-up in the remote index each).
_RECORDS_AT_ONCE = 1000


class _Sending:
    """One push's objects on their way: each record read once (its bytes go into the
    records' pack), what it names looked up in the remote's index a round at a time,
    the missing ones packed (or sent loose when large) while full packs travel."""

    def __init__(self, store: ObjectStore, remote: Remote, index: rindex.RemoteIndex,
                 sender: PackSender, done: Transfer, *, models: bool,
                 thumbs: Thumbnails | None):
        self.store, self.remote, self.index, self.done = store, remote, index, done
        self.sender, self.models, self.thumbs = sender, models, thumbs
        self.entries: dict[str, Location] = {}
        self.thumb_of: dict[str, str] = {}  # output -> its thumbnail, for the segment
        self.seen: set[str] = set()
        # records in packs of their own: a pull reads them first, and again when resumed
        self.record_pack = Packer(sender, self.entries)
        self.other_pack = Packer(sender, self.entries)

    def records(self, record_ids: list[str]) -> None:
        record_bytes: dict[str, bytes] = {}
        wanted: list[str] = []
        for rid in record_ids:
            data = record_bytes[rid] = self.store.read_bytes(rid)
            record = from_bytes(data, id=rid)
            wanted += [rid, *record_objects(record, models=self.models)]
            output = bare_id(record.output.blake3)
            thumb = self.thumbs.id_of(output) if self.thumbs is not None and output else None
            if output and thumb:
                self.thumb_of[output] = thumb
                wanted.append(thumb)
        self._send(wanted, record_bytes)

    def thumbnails(self, thumbs: Thumbnails, outputs: Iterable[str]) -> None:
        """The thumbnails of ``outputs`` the remote does not list and this store has,
        looked up a round at a time."""
        outputs = iter(outputs)
        while chunk := list(itertools.islice(outputs, _RECORDS_AT_ONCE)):
            lacking = [o for o in dict.fromkeys(chunk) if o not in self.thumb_of]
            listed = self.index.cache.thumbnails(lacking)
            wanted = []
            for output in lacking:
                thumb = None if output in listed else thumbs.id_of(output)
                if thumb:
                    self.thumb_of[output] = thumb
                    wanted.append(thumb)
            self._send(wanted, {})

    def _send(self, wanted: list[str], record_bytes: dict[str, bytes]) -> None:
        fresh = [o for o in dict.fromkeys(wanted) if o not in self.seen]
        self.seen.update(fresh)
        listed = self.index.cache.locations(fresh)
        for oid in (o for o in fresh if o not in listed):
            if oid in record_bytes:
                self.record_pack.add(oid, record_bytes[oid])
            elif (got := _read_small(self.store, oid)) is None:
                self.done.unavailable.append(oid)
                continue
            elif isinstance(got, int):
                _send_large(self.remote, self.store, oid, self.done)
                self.entries[oid] = (None, 0, got)
            else:
                self.other_pack.add(oid, got)
            self.done.objects += 1

    def finish(self) -> None:
        self.other_pack.flush()
        self.record_pack.flush()
        self.sender.finish()


def _read_small(store: ObjectStore, oid: str) -> bytes | int | None:
    """A small object's bytes, checked against its id; the size of a large one (sent
    from its file); None when the store does not have it. One look-up, not two: most
    objects are small, and a packed one is found by a search of the packs' tables."""
    try:
        f = store.open(oid)
    except NotFound:
        return None
    with f:
        size = f.seek(0, os.SEEK_END)
        if size > rindex.PACK_MAX_OBJECT:
            return size
        f.seek(0)
        data = f.read()
    got = hash_bytes(data)
    if got != oid:
        raise ChecksumMismatch(f"object {oid}", oid, got)
    return data


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
