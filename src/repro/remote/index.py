"""The remote's index of its own contents, kept as objects on the remote.

Nobody lists the bucket. The index is a log: every push appends one segment
(``index/seg/<blake3>``, immutable, see ``repro.remote.segment``) naming what it
added. ``index/HEAD`` (small, moved only by compare-and-swap) lists the segments
with the stretch of the log each covers, ``[segment, from, to, bytes]``, and the
log's identity (``id``, new whenever the log is rewritten other than by
appending: a repair). A push uploads its packs and objects first and publishes
them by appending its segment to HEAD last: nothing half-sent is ever listed.

Locally each remote has an ``IndexCache`` (SQLite) fed only from the segments
past the position it has applied: syncing costs one HEAD read and the new
segments, O(new). HEAD would still grow by one entry a push, so a push that
leaves ``FANOUT`` trailing entries of the same stretch merges them into one
segment (the same CAS as any HEAD move; when it loses, a later push does it):
HEAD stays at a few dozen entries and a new clone reads few segments, each
segment's rows rewritten about once per level. Merged segments stop at
``MAX_MERGED`` bytes, so nobody ever holds more than that in memory.

The segments a merge replaced stay on the remote for a while: a reader that read
the HEAD before the merge fetches them next. HEAD lists them as ``retired`` with
the time of the merge, and the first HEAD move ``RETIRE_GRACE`` later deletes
them (before the CAS that forgets them, so a lost CAS only means deleting again);
in a burst of pushes, those beyond the newest ``MAX_RETIRED`` go sooner. A reader
that still finds one gone reads HEAD again and carries on from there.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from repro.errors import NotFound, RemoteError, RemoteIndexDamaged
from repro.objects.hashing import hash_bytes
from repro.objects.ids import is_id
from repro.remote.base import CasConflict, Remote, Version
from repro.remote.index_cache import IndexCache
from repro.remote.segment import Segment, parse_segment

HEAD = "index/HEAD"
FORMAT = 2
#: Objects up to this size travel in packs; larger ones (model files) loose, multipart.
PACK_MAX_OBJECT = 16 * 1024 * 1024
CAS_RETRIES = 50
#: This many trailing HEAD entries covering equal stretches merge into one.
FANOUT = 16
#: No merged segment is larger than this (bytes of JSON).
MAX_MERGED = 32 * 1024 * 1024
#: Seconds a merged-away segment stays on the remote: longer than any sync takes to
#: go from reading HEAD to fetching its segments, and than clocks differ by.
RETIRE_GRACE = 3600.0
#: At most this many retired segments wait out the grace period (about 20 KB of HEAD);
#: in a burst of pushes the oldest go sooner (a reader that needs one reads HEAD again).
MAX_RETIRED = 256
#: Times a sync reads HEAD again when a segment it names is gone (merged and deleted).
SYNC_RETRIES = 5


def object_key(oid: str) -> str:
    return f"objects/{oid[:2]}/{oid[2:]}"


def pack_key(pack: str) -> str:
    return f"packs/{pack}.pack"


def segment_key(seg: str) -> str:
    return f"index/seg/{seg}"


@dataclass(frozen=True)
class Entry:
    """One segment in HEAD: it covers log positions ``start`` to ``end`` (pushes)."""

    seg: str
    start: int
    end: int
    size: int

    @property
    def span(self) -> int:
        return self.end - self.start


@dataclass
class Head:
    id: str = ""
    entries: list[Entry] = field(default_factory=list)
    version: Version | None = None
    #: segments merged away and no longer listed: (segment, when, as a Unix time)
    retired: list[tuple[str, float]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.entries[-1].end if self.entries else 0

    def to_bytes(self) -> bytes:
        """HEAD's JSON; ``retired`` only when there are some (older code ignores it)."""
        body: dict[str, object] = {
            "format": FORMAT, "id": self.id,
            "segments": [[e.seg, e.start, e.end, e.size] for e in self.entries]}
        if self.retired:
            body["retired"] = [[seg, when] for seg, when in self.retired]
        return orjson.dumps(body)


def parse_head(data: bytes, version: Version | None = None) -> Head:
    """HEAD as written now, or by the first format (a bare list of segments, one a push)."""
    try:
        body = orjson.loads(data)
        fmt = body.get("format")
        if fmt == 1:
            entries = [Entry(str(s), i, i + 1, 0) for i, s in enumerate(body["segments"])]
        else:
            entries = [Entry(str(s), int(a), int(b), int(n)) for s, a, b, n in body["segments"]]
        retired = [(str(seg), float(when)) for seg, when in body.get("retired", ())]
        head = Head(str(body.get("id", "")), entries, version, retired)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        raise RemoteIndexDamaged(
            f"the remote's {HEAD} is damaged",
            hint=f"move {HEAD} aside on the remote (no object is lost): the next push from "
                 "each store starts a new index and lists its records again") from None
    if fmt not in (1, FORMAT) or not all(is_id(seg) for seg in
                                         [e.seg for e in head.entries] + [s for s, _ in retired]):
        raise RemoteError(f"the remote's {HEAD} has an unknown format ({fmt})",
                          hint="a newer repro wrote it: upgrade repro")
    return head


def read_head(remote: Remote) -> Head:
    got = remote.read_versioned(HEAD)
    return parse_head(*got) if got else Head()


class SegmentGone(RemoteIndexDamaged):
    """A segment HEAD named is not on the remote: merged away and deleted since that
    HEAD was read (read HEAD again), or lost (when HEAD still names it)."""


def fetch_segment(remote: Remote, seg: str) -> Segment:
    """A segment HEAD names, checked against its hash."""
    try:
        data = remote.get(segment_key(seg))
    except NotFound:
        raise SegmentGone(f"the remote index segment {seg} is missing") from None
    got = hash_bytes(data)
    if got != seg:
        raise RemoteIndexDamaged(f"the remote index segment {seg} holds other bytes "
                                 f"(blake3 {got})")
    return parse_segment(seg, data)


@dataclass
class RemoteIndex:
    """The remote's HEAD as last read, and the local cache fed from it."""

    head: Head
    cache: IndexCache

    def close(self) -> None:
        self.cache.close()


def sync(remote: Remote, path: Path, head: Head | None = None) -> RemoteIndex:
    """Read HEAD (unless given one read before) and apply the segments the cache at
    ``path`` has not applied yet. A segment gone meanwhile was merged into one a newer
    HEAD lists: read HEAD again and go on (what was applied stays applied)."""
    if head is None:
        head = read_head(remote)
    cache = IndexCache(path)
    tries = 0
    while True:
        try:
            _apply_head(remote, cache, head)
            return RemoteIndex(head, cache)
        except SegmentGone:
            newer = read_head(remote)
            tries += 1
            if newer.version == head.version or tries > SYNC_RETRIES:
                cache.close()
                raise  # HEAD still names it: lost, not merged away
            head = newer
        except BaseException:
            cache.close()
            raise


def _apply_head(remote: Remote, cache: IndexCache, head: Head) -> None:
    if cache.remote_id != head.id or cache.through > head.total:
        cache.reset(head.id)  # another log than the one applied: start again
    for entry in head.entries:
        if entry.end > cache.through:
            cache.apply(fetch_segment(remote, entry.seg), entry.end)


def upload(remote: Remote, segment: Segment) -> tuple[str, int]:
    """Store a segment under the hash of its bytes (unless it is there); its name and size."""
    data = segment.to_bytes()
    seg = hash_bytes(data)
    there = remote.read_versioned(segment_key(seg))
    if there is None:
        remote.put_if_absent(segment_key(seg), data)
    elif hash_bytes(there[0]) != seg:  # a damaged copy (a repair dropped it): heal it
        remote.replace(segment_key(seg), data, there[1])
    return seg, len(data)


def publish(remote: Remote, index: RemoteIndex, segment: Segment) -> None:
    """Upload a segment and append it to HEAD by compare-and-swap, re-reading HEAD and
    retrying when another push got there first (segments only add: nothing is lost);
    then merge trailing entries when there are enough."""
    seg, size = upload(remote, segment)
    head = index.head
    for attempt in range(CAS_RETRIES):
        if attempt:
            time.sleep(min(0.02 * attempt, 0.3))  # let the push that got there first finish
        entry = Entry(seg, head.total, head.total + 1, size)
        new = Head(head.id or uuid.uuid4().hex, [*head.entries, entry],
                   retired=sweep_retired(remote, head, [*head.entries, entry]))
        try:
            new.version = remote.replace(HEAD, new.to_bytes(), head.version)
            break
        except CasConflict:
            head = read_head(remote)
    else:
        raise RemoteError(f"could not update the remote's {HEAD} after {CAS_RETRIES} tries",
                          hint="many pushes at once: try again")
    cache = index.cache
    if cache.through == entry.start and cache.remote_id == head.id:
        cache.name_log(new.id)  # the same log, named now if it had no name yet
        cache.apply(segment, entry.end)
    index.head = new
    compact(remote, index)


def compact(remote: Remote, index: RemoteIndex) -> None:
    """Merge the last ``FANOUT`` HEAD entries into one while they cover equal stretches
    and stay under ``MAX_MERGED``. Losing the CAS leaves HEAD as it was (a later push
    merges); the merged segment then is an unlisted object, harmless."""
    while True:
        head = index.head
        run = head.entries[-FANOUT:]
        if (len(run) < FANOUT or len({e.span for e in run}) != 1
                or sum(e.size for e in run) > MAX_MERGED):
            return
        merged = Segment()
        try:
            for entry in run:
                merged.merge(fetch_segment(remote, entry.seg))
        except SegmentGone:
            return  # merged by another push since this HEAD was read: its CAS would lose
        seg, size = upload(remote, merged)
        entries = [*head.entries[:-FANOUT], Entry(seg, run[0].start, run[-1].end, size)]
        now = time.time()
        new = Head(head.id, entries, retired=[*sweep_retired(remote, head, entries),
                                              *((e.seg, now) for e in run)])
        try:
            new.version = remote.replace(HEAD, new.to_bytes(), head.version)
        except CasConflict:
            return
        index.head = new


def sweep_retired(remote: Remote, head: Head, entries: list[Entry]) -> list[tuple[str, float]]:
    """Delete the segments ``head`` retired ``RETIRE_GRACE`` ago or more, and the oldest
    beyond the newest ``MAX_RETIRED``, unless ``entries`` (the HEAD about to be written)
    list them again; the retired ones to keep. Deleting comes before the CAS that
    forgets them: a CAS lost deletes them again. A remote that refuses a delete (a bucket
    that allows writes and not deletes) fails no push: the segments due are forgotten
    undeleted, as all were before deletion."""
    listed = {e.seg for e in entries}
    cutoff = time.time() - RETIRE_GRACE
    waiting = [(seg, when) for seg, when in head.retired if seg not in listed]
    kept = [(seg, when) for seg, when in waiting if when > cutoff][-MAX_RETIRED:]
    keep = {seg for seg, _ in kept}
    for seg, _ in waiting:
        if seg in keep:
            continue
        try:
            remote.delete(segment_key(seg))
        except RemoteError:
            break  # the rest would be refused too: do not ask again
    return kept
