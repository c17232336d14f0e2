"""Moving what is missing between a local object store and a remote.

Push: the records' objects (record, output, metadata blobs, inputs and, unless
asked not to, model versions) that the remote index does not list; small ones
packed (a pack per ~64 MiB, one request each), large ones loose as multipart
uploads; then one index segment naming them all, published last.
Pull: the objects the remote index lists for the wanted records, each checked
against its BLAKE3 before it enters the store (a mismatch is reported and the
bytes dropped); records are stored after the objects they name.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repro.errors import NotFound, RemoteIntegrity
from repro.objects.hashing import hash_bytes, hash_file
from repro.objects.ids import is_id
from repro.objects.store import ObjectStore
from repro.record import Record, from_bytes
from repro.remote import index as rindex
from repro.remote.base import Remote

Notify = Callable[[str], None]


def _bare(value: str | None) -> str | None:
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
    return [oid for oid in dict.fromkeys(_bare(v) for v in found) if oid]


@dataclass
class Transfer:
    """What a push or pull moved."""

    records: list[str] = field(default_factory=list)
    objects: int = 0
    bytes: int = 0
    packs: int = 0
    large: int = 0
    #: objects a record names that are in neither store (a dropped model version)
    unavailable: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"records": self.records, "objects": self.objects, "bytes": self.bytes,
                "packs": self.packs, "large": self.large, "unavailable": self.unavailable}


def push(store: ObjectStore, remote: Remote, record_ids: Iterable[str], *, cache: Path,
         models: bool = True, tags: Iterable[str] = ()) -> Transfer:
    index = rindex.load(remote, cache)
    done = Transfer()
    wanted: dict[str, None] = {}
    new_records = []
    for rid in record_ids:
        if rid in index.records or (not models and rid in index.partial):
            continue
        new_records.append(rid)
        record = from_bytes(store.read_bytes(rid), id=rid)
        for oid in [rid, *record_objects(record, models=models)]:
            wanted[oid] = None
    missing = [oid for oid in wanted if oid not in index.objects]
    entries: dict[str, rindex.Location] = {}
    pack: list[tuple[str, bytes]] = []
    for oid in missing:
        if oid not in store:
            done.unavailable.append(oid)
            continue
        size = store.size(oid)
        if size > rindex.PACK_MAX_OBJECT:
            remote.put_file(rindex.object_key(oid), store.path(oid))
            entries[oid] = (None, 0, size)
            done.large += 1
        else:
            pack.append((oid, store.read_bytes(oid)))
            if sum(len(b) for _, b in pack) >= rindex.PACK_TARGET:
                _send_pack(remote, pack, entries, done)
                pack = []
        done.objects += 1
        done.bytes += size
    if pack:
        _send_pack(remote, pack, entries, done)
    new_tags = set(tags) - index.tags
    if entries or new_records or new_tags:
        rindex.publish(remote, index, rindex.segment_bytes(entries, new_records, new_tags,
                                                          partial=not models))
    done.records = new_records
    return done


def _send_pack(remote: Remote, pack: list[tuple[str, bytes]],
               entries: dict[str, rindex.Location], done: Transfer) -> None:
    data = b"".join(b for _, b in pack)
    name = hash_bytes(data)
    offset = 0
    for oid, b in pack:
        entries[oid] = (name, offset, len(b))
        offset += len(b)
    remote.put_if_absent(rindex.pack_key(name), data)
    done.packs += 1


def resolve_remote(index: rindex.RemoteIndex, targets: Iterable[str]) -> list[str]:
    """Record ids on the remote for full ids or unique prefixes (at least 6 hex)."""
    found = []
    for target in targets:
        t = _bare(target) or target.lower()
        hits = [r for r in index.all_records if r.startswith(t)] if len(t) >= 6 else []
        if len(hits) != 1:
            raise NotFound(f"{target}: {'several' if hits else 'no'} record(s) on the remote",
                           hint="give a record id (or a unique prefix of 6+ hex digits)")
        found.append(hits[0])
    return found


def pull(store: ObjectStore, remote: Remote, record_ids: Iterable[str] | None, *, cache: Path,
         models: bool = True, index: rindex.RemoteIndex | None = None
         ) -> tuple[Transfer, list[Record]]:
    """Fetch the records (all the remote has when None) and what they name."""
    index = index or rindex.load(remote, cache)
    done = Transfer()
    wanted = sorted(index.all_records) if record_ids is None else list(record_ids)
    records = [r for r in wanted if r not in store]
    fetcher = _Fetcher(store, remote, index, done)
    parsed = []
    for rid, data in fetcher.small(records).items():
        parsed.append(from_bytes(data, id=rid))
    need: dict[str, None] = {}
    for record in parsed:
        for oid in record_objects(record, models=models):
            if oid not in store:
                if oid in index.objects:
                    need[oid] = None
                else:
                    done.unavailable.append(oid)
    with store.batch():
        for oid, data in fetcher.small([o for o in need if index.objects[o][0]]).items():
            store.put_bytes(data, known=oid)
        for oid in (o for o in need if index.objects[o][0] is None):
            fetcher.large(oid)
        for record in parsed:  # after the objects they name
            store.put_bytes(fetcher.record_bytes[record.id], group=1, known=record.id)
    done.records = [r.id for r in parsed]
    return done, parsed


class _Fetcher:
    def __init__(self, store: ObjectStore, remote: Remote, index: rindex.RemoteIndex,
                 done: Transfer):
        self.store, self.remote, self.index, self.done = store, remote, index, done
        self.record_bytes: dict[str, bytes] = {}

    def small(self, oids: list[str]) -> dict[str, bytes]:
        """Packed objects, one GET per pack, each checked against its id."""
        by_pack: dict[str, list[str]] = {}
        got: dict[str, bytes] = {}
        for oid in oids:
            where = self.index.objects.get(oid)
            if where is None:
                raise NotFound(f"{oid} is not on the remote")
            if where[0] is None:
                got[oid] = self.remote.get(rindex.object_key(oid))
                self._check(oid, got[oid])
            else:
                by_pack.setdefault(where[0], []).append(oid)
        for pack, members in by_pack.items():
            data = self.remote.get(rindex.pack_key(pack))
            self.done.packs += 1
            for oid in members:
                _, offset, size = self.index.objects[oid]
                got[oid] = data[offset:offset + size]
                self._check(oid, got[oid])
        for data in got.values():
            self.done.objects += 1
            self.done.bytes += len(data)
        self.record_bytes.update(got)
        return got

    def _check(self, oid: str, data: bytes) -> None:
        got = hash_bytes(data)
        if got != oid:
            raise RemoteIntegrity(f"the remote returned wrong bytes for object {oid} "
                                  f"(blake3 {got}); nothing was stored from it")

    def large(self, oid: str) -> None:
        fd, name = tempfile.mkstemp(prefix="tmp-pull-", dir=self.store.tmp_dir)
        os.close(fd)
        tmp = Path(name)
        try:
            self.remote.get_file(rindex.object_key(oid), tmp)
            got = hash_file(tmp)
            if got != oid:
                raise RemoteIntegrity(f"the remote returned wrong bytes for object {oid} "
                                      f"(blake3 {got}); nothing was stored from it")
            self.store.put_file(tmp, mode="copy")
            self.done.objects += 1
            self.done.large += 1
            self.done.bytes += tmp.stat().st_size
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def fetch_objects(store: ObjectStore, remote: Remote, oids: Iterable[str], *,
                  cache: Path) -> Transfer:
    """Objects the remote index lists (a model version ``checkout`` needs), each checked
    against its hash before it enters the store; the others are left out."""
    index = rindex.load(remote, cache)
    done = Transfer()
    fetcher = _Fetcher(store, remote, index, done)
    wanted = [o for o in dict.fromkeys(oids) if o not in store and o in index.objects]
    with store.batch():
        for oid, data in fetcher.small([o for o in wanted if index.objects[o][0]]).items():
            store.put_bytes(data, known=oid)
        for oid in (o for o in wanted if index.objects[o][0] is None):
            fetcher.large(oid)
    done.unavailable = [o for o in oids if o not in store]
    return done
