"""Pull: the objects the remote index lists for the wanted records (and their
outputs' thumbnails), each checked against its BLAKE3 before it enters the store
(a mismatch is reported and the bytes dropped); records are stored after the
objects they name.

A pack is read as a stream, member after member in the order they lie in it,
each checked as it arrives and handed to the store: memory holds an object, not
a pack. The store keeps small objects in durable batches of about
``KEEP_EVERY`` bytes of packs (a sync or two each, not per pack), the last one
with the records. A large object is fetched into ``partial/`` beside the local
copy of the remote's index and linked into the store once checked whole. A pull
that stopped midway keeps the batches and large objects it finished and the
part of a large object it had (continued: ``Remote.get_file``); the next one
fetches only the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from repro.errors import NotFound, RemoteIndexDamaged, RemoteIntegrity
from repro.lineage.thumbnails import MAX_THUMBNAIL_BYTES, Thumbnails
from repro.objects.faults import checkpoint
from repro.objects.hashing import hash_bytes, iter_chunks, new_hasher
from repro.objects.store import ObjectStore
from repro.objects.syncing import fsync_file
from repro.record import Record, from_bytes
from repro.remote import index as rindex
from repro.remote.base import Readable, Remote
from repro.remote.segment import Location
from repro.remote.transfer import Transfer, bare_id, record_objects

#: Bytes of packs whose objects the store keeps in one durable batch: a pull stopped
#: midway fetches again at most about this much of what it had received.
KEEP_EVERY = 256 * 1024 * 1024


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
    ``thumbs``, the thumbnails the remote lists for their outputs, each linked to its
    output as it is stored. The records are read first (to learn what they
    name) and stored last, in the batch of the last objects."""
    done = Transfer()
    if record_ids is None:
        wanted = index.cache.records_since(index.cache.pulled)
    else:
        wanted = list(record_ids)
    fetcher = _Fetcher(store, remote, index, done)
    record_bytes = fetcher.read([r for r in wanted if r not in store])
    parsed = [from_bytes(data, id=rid) for rid, data in record_bytes.items()]
    need: dict[str, None] = {}
    for record in parsed:
        for oid in record_objects(record, models=models):
            if oid not in store:
                need[oid] = None
    thumb_of = _listed_thumbnails(index, parsed) if thumbs is not None else {}
    for output, thumb in thumb_of.items():
        if thumb not in store:
            need[thumb] = None
            fetcher.made_from[thumb] = output  # linked to it in the store's pack

    def last() -> None:
        if thumbs is not None:
            for output, thumb in thumb_of.items():
                if fetcher.made_from.get(thumb) == output:
                    continue
                if thumb in store and output in store and thumbs.id_of(output) is None:
                    thumbs.link(output, thumb)  # one this store has already is kept
        for record in parsed:
            store.put_bytes(record_bytes[record.id], group=1, known=record.id)

    fetcher.fetch(list(need), last=last)
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


Keep = Callable[[str, bytes], None]


class _Fetcher:
    """Objects the remote index lists, each checked against its id before it is kept."""

    def __init__(self, store: ObjectStore, remote: Remote, index: rindex.RemoteIndex,
                 done: Transfer):
        self.store, self.remote, self.index, self.done = store, remote, index, done
        #: thumbnail -> the output it was made from, kept beside it in the store
        self.made_from: dict[str, str] = {}

    def read(self, oids: list[str]) -> dict[str, bytes]:
        """Small objects (records) into memory, not stored."""
        where = self.index.cache.locations(oids)
        for oid in oids:
            if oid not in where:
                raise NotFound(f"{oid} is not on the remote")
        got: dict[str, bytes] = {}
        for pack, members in _by_pack(where).items():
            self._unpack(pack, members, got.__setitem__)
        return {oid: got[oid] for oid in oids}

    def fetch(self, oids: list[str], *, last: Callable[[], None] = lambda: None) -> None:
        """Store objects: each large one on its own, then the small ones in batches of
        about ``KEEP_EVERY`` bytes of packs; ``last`` runs in the last batch. Those the
        remote does not list are noted as unavailable."""
        where = self.index.cache.locations(oids)
        self.done.unavailable += [o for o in oids if o not in where]
        for oid, (pack, _, size) in where.items():
            if pack is None and size > rindex.PACK_MAX_OBJECT:
                self._large(oid, size)
                checkpoint("pull.kept")
        runs = _runs(_by_pack(where))
        for n, run in enumerate(runs, 1):
            with self.store.batch():
                for pack, members in run:
                    self._unpack(pack, members, self._keep)
                if n == len(runs):
                    last()
            checkpoint("pull.kept")

    def _keep(self, oid: str, data: bytes) -> None:
        self.store.put_bytes(data, known=oid, made_from=self.made_from.get(oid))

    def _unpack(self, pack: str | None, members: dict[str, Location], keep: Keep) -> None:
        """Each member checked and handed to ``keep``: a pack's read as one stream
        (from its first member wanted to its last), loose ones a GET each."""
        if pack is None:
            for oid in members:
                data = self._get(rindex.object_key(oid))
                self.done.bytes += len(data)
                _check(oid, data)
                keep(oid, data)
                self.done.objects += 1
            return
        ordered = sorted(members.items(), key=lambda m: m[1][1])
        start = ordered[0][1][1]
        end = max(offset + size for _, (_, offset, size) in ordered)
        key = rindex.pack_key(pack)
        try:
            with self.remote.stream(key, start, end) as body:
                pos = start
                for oid, (_, offset, size) in ordered:
                    _skip(body, offset - pos, key)
                    data = _read(body, size, key) if size else b""
                    pos = offset + size
                    _check(oid, data)
                    keep(oid, data)
                    self.done.objects += 1
        except NotFound:
            raise _listed_but_gone(key) from None
        self.done.packs += 1
        self.done.bytes += end - start

    def _get(self, key: str) -> bytes:
        try:
            return self.remote.get(key)
        except NotFound:
            raise _listed_but_gone(key) from None

    def _large(self, oid: str, size: int) -> None:
        """A large object into ``partial/<oid>`` beside the local copy of the remote's
        index (not the store's tmp/, which every writer clears), continued from what a
        stopped pull left there, checked whole against its hash, then linked into the
        store. Bytes kept from before that prove wrong are fetched again, once."""
        part = self.index.cache.path.parent / "partial" / oid
        part.parent.mkdir(parents=True, exist_ok=True)
        key = rindex.object_key(oid)
        fetched = self._get_file(key, part, size)
        got = _hash_written(part)
        if got != oid and fetched < size:
            part.unlink()
            fetched += self._get_file(key, part, size)
            got = _hash_written(part)
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
        self.done.bytes += fetched

    def _get_file(self, key: str, part: Path, size: int) -> int:
        try:
            return self.remote.get_file(key, part, size)
        except NotFound:
            raise _listed_but_gone(key) from None


def _hash_written(path: Path) -> str:
    """BLAKE3 of a file just written (its pages still in the page cache), by plain
    reads: ``hash_file`` would map it, and every page of a mapped model counts in
    this process's resident memory (1 GiB for a model of 1 GiB)."""
    size = path.stat().st_size
    hasher = new_hasher(size)
    with open(path, "rb", buffering=0) as f:
        for chunk in iter_chunks(f, size_hint=size):
            hasher.update(chunk)
    return str(hasher.hexdigest())


def _by_pack(where: dict[str, Location]) -> dict[str | None, dict[str, Location]]:
    """Small objects grouped by pack (loose small objects under None); large ones left out."""
    groups: dict[str | None, dict[str, Location]] = {}
    for oid, loc in where.items():
        if loc[0] is not None or loc[2] <= rindex.PACK_MAX_OBJECT:
            groups.setdefault(loc[0], {})[oid] = loc
    return groups


def _runs(groups: dict[str | None, dict[str, Location]]
          ) -> list[list[tuple[str | None, dict[str, Location]]]]:
    """The packs (and loose small objects) in runs of about ``KEEP_EVERY`` bytes,
    each kept in one batch; one run at least (for what goes in the last batch)."""
    runs: list[list[tuple[str | None, dict[str, Location]]]] = [[]]
    size = 0
    for group in groups.items():
        if size >= KEEP_EVERY:
            runs.append([])
            size = 0
        runs[-1].append(group)
        size += sum(loc[2] for loc in group[1].values())
    return runs


def _read(body: Readable, size: int, key: str) -> bytes:
    """Exactly ``size`` bytes of ``body``; a stream that ends sooner is a damaged pack."""
    data = body.read(size)
    if len(data) < size:
        parts = [data]
        got = len(data)
        while got < size and (more := body.read(size - got)):
            parts.append(more)
            got += len(more)
        data = b"".join(parts)
    if len(data) != size:
        raise RemoteIndexDamaged(f"the remote's index names bytes past the end of {key}")
    return data


def _skip(body: Readable, n: int, key: str) -> None:
    """Read past ``n`` bytes of ``body`` that are not wanted (a member already here)."""
    while n > 0:
        n -= len(_read(body, min(n, 1 << 20), key))


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
