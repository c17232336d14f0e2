"""Pull: the objects the remote index lists for the wanted records (and their
outputs' thumbnails, whose refs are written once they are stored), each checked
against its BLAKE3 before it enters the store (a mismatch is reported and the
bytes dropped), kept a pack or a large object at a time; records are stored
after the objects they name. A pull that stopped midway keeps what it stored, and
the part of a large object it had fetched (continued where the remote can).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from repro.errors import NotFound, RemoteIndexDamaged, RemoteIntegrity
from repro.lineage.thumbnails import MAX_THUMBNAIL_BYTES, Thumbnails
from repro.objects.faults import checkpoint
from repro.objects.hashing import hash_bytes, hash_file
from repro.objects.store import ObjectStore
from repro.objects.syncing import fsync_file
from repro.record import Record, from_bytes
from repro.remote import index as rindex
from repro.remote.base import Remote
from repro.remote.segment import Location
from repro.remote.transfer import Transfer, bare_id, record_objects


def resolve_remote(index: rindex.RemoteIndex, targets: Iterable[str]) -> list[str]:
    """Record ids on the remote for full ids or unique prefixes (at least 6 hex)."""
    found = []
    for target in targets:
        t = bare_id(target) or target.lower()
        ok = len(t) >= 6 and all(c in "0123456789abcdef" for c in t)
        hits = index.cache.find_records(t) if ok else []
        if len(hits) != 1:
            raise NotFound(f"{target}: {'several' if hits else 'no'} record(s) on the remote",
                           hint="give a record id (or a unique prefix of 6+ hex digits)")
        found.append(hits[0])
    return found


def pull(store: ObjectStore, remote: Remote, record_ids: Iterable[str] | None, *,
         index: rindex.RemoteIndex, models: bool = True,
         thumbs: Thumbnails | None = None) -> tuple[Transfer, list[Record]]:
    """Fetch the records (all the remote has when None) and what they name; with
    ``thumbs``, the thumbnails the remote lists for their outputs, whose refs are
    written once they are stored. Objects are kept as they arrive (a pack, a model at
    a time), records last: a pull stopped midway keeps what it fetched, and the next
    one fetches only the rest."""
    done = Transfer()
    if record_ids is None:
        wanted = index.cache.records_since(index.cache.pulled)
    else:
        wanted = list(record_ids)
    records = [r for r in wanted if r not in store]
    fetcher = _Fetcher(store, remote, index, done)
    parsed = [from_bytes(data, id=rid) for rid, data in fetcher.small(records).items()]
    need: dict[str, None] = {}
    for record in parsed:
        for oid in record_objects(record, models=models):
            if oid not in store:
                need[oid] = None
    thumb_of = _listed_thumbnails(index, parsed) if thumbs is not None else {}
    for thumb in thumb_of.values():
        if thumb not in store:
            need[thumb] = None
    fetcher.fetch(list(need))
    if thumbs is not None:
        for output, thumb in thumb_of.items():
            if thumb in store and output in store and thumbs.id_of(output) is None:
                thumbs.link(output, thumb)  # one this store has already is kept
    with store.batch():
        for record in parsed:  # after the objects they name
            store.put_bytes(fetcher.record_bytes[record.id], group=1, known=record.id)
    if record_ids is None:
        index.cache.mark_pulled(index.cache.through)
    done.records = [r.id for r in parsed]
    return done, parsed


def _listed_thumbnails(index: rindex.RemoteIndex, records: list[Record]) -> dict[str, str]:
    """output -> thumbnail for the records' outputs whose thumbnail the remote lists
    (a remote older code pushed lists none: the page makes them, as for any store)
    at a thumbnail's size."""
    outputs = [o for o in (bare_id(r.output.blake3) for r in records) if o]
    named = index.cache.thumbnails(outputs)
    where = index.cache.locations(set(named.values()))
    return {output: thumb for output, thumb in named.items()
            if thumb in where and where[thumb][2] <= MAX_THUMBNAIL_BYTES}


class _Fetcher:
    """Objects the remote index lists, each checked against its id before it is kept."""

    def __init__(self, store: ObjectStore, remote: Remote, index: rindex.RemoteIndex,
                 done: Transfer):
        self.store, self.remote, self.index, self.done = store, remote, index, done
        self.record_bytes: dict[str, bytes] = {}

    def small(self, oids: list[str]) -> dict[str, bytes]:
        """Packed objects (records), one GET per pack, kept in memory."""
        where = self.index.cache.locations(oids)
        for oid in oids:
            if oid not in where:
                raise NotFound(f"{oid} is not on the remote")
        got: dict[str, bytes] = {}
        for pack, members in _by_pack(where).items():
            got.update(self._unpack(pack, members))
        self.record_bytes.update(got)
        return got

    def fetch(self, oids: list[str]) -> None:
        """Store objects: a pack's members in one batch (one sync), each large object on
        its own; those the remote does not list are noted as unavailable."""
        where = self.index.cache.locations(oids)
        self.done.unavailable += [o for o in oids if o not in where]
        for oid, (pack, _, size) in where.items():
            if pack is None and size > rindex.PACK_MAX_OBJECT:
                self._large(oid, size)
                checkpoint("pull.kept")
        for pack, members in _by_pack(where).items():
            with self.store.batch():
                for oid, data in self._unpack(pack, members).items():
                    self.store.put_bytes(data, known=oid)
            checkpoint("pull.kept")

    def _unpack(self, pack: str | None, members: dict[str, Location]) -> dict[str, bytes]:
        got: dict[str, bytes] = {}
        if pack is None:
            for oid in members:
                got[oid] = self._get(rindex.object_key(oid))
                self.done.bytes += len(got[oid])
        else:
            data = self._get(rindex.pack_key(pack))
            self.done.packs += 1
            self.done.bytes += len(data)
            for oid, (_, offset, size) in members.items():
                got[oid] = data[offset:offset + size]
        for oid, data in got.items():
            _check(oid, data)
            self.done.objects += 1
        return got

    def _get(self, key: str) -> bytes:
        try:
            return self.remote.get(key)
        except NotFound:
            raise _listed_but_gone(key) from None

    def _large(self, oid: str, size: int) -> None:
        """A large object into ``partial/<oid>`` beside the local copy of the remote's
        index (not the store's tmp/, which every writer clears), continued from where a
        stopped pull left it, checked against its hash, then stored."""
        part = self.index.cache.path.parent / "partial" / oid
        part.parent.mkdir(parents=True, exist_ok=True)
        start = part.stat().st_size if part.exists() else 0
        if start > size:
            part.unlink()
            start = 0
        if start < size:
            try:
                self.remote.get_file(rindex.object_key(oid), part, start=start)
            except NotFound:
                raise _listed_but_gone(rindex.object_key(oid)) from None
        got = hash_file(part)
        if got != oid:
            part.unlink()
            raise RemoteIntegrity(f"the remote returned wrong bytes for object {oid} "
                                  f"(blake3 {got}); nothing was stored from it")
        # checked and on disk: linked into the store as it is, not copied and hashed again
        fsync_file(str(part))
        self.store.put_file(part, mode="hardlink", known=oid)
        part.unlink()
        self.done.objects += 1
        self.done.large += 1
        self.done.bytes += size - start


def _by_pack(where: dict[str, Location]) -> dict[str | None, dict[str, Location]]:
    """Small objects grouped by pack (loose small objects under None); large ones left out."""
    groups: dict[str | None, dict[str, Location]] = {}
    for oid, loc in where.items():
        if loc[0] is not None or loc[2] <= rindex.PACK_MAX_OBJECT:
            groups.setdefault(loc[0], {})[oid] = loc
    return groups


def _check(oid: str, data: bytes) -> None:
    got = hash_bytes(data)
    if got != oid:
        raise RemoteIntegrity(f"the remote returned wrong bytes for object {oid} "
                              f"(blake3 {got}); nothing was stored from it")


def _listed_but_gone(key: str) -> RemoteIndexDamaged:
    return RemoteIndexDamaged(f"the remote's index lists {key}, but the remote does not have it")


def fetch_objects(store: ObjectStore, remote: Remote, oids: Iterable[str], *,
                  cache: Path) -> Transfer:
    """Objects the remote index lists (a model version ``checkout`` needs), each checked
    against its hash before it enters the store; the others are left out."""
    index = rindex.sync(remote, cache)
    try:
        done = Transfer()
        wanted = [o for o in dict.fromkeys(oids) if o not in store]
        _Fetcher(store, remote, index, done).fetch(wanted)
        done.unavailable = [o for o in oids if o not in store]
        return done
    finally:
        index.close()
