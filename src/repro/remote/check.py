"""Checking a remote's index against the remote, and repairing it.

A sync trusts the index: it never lists the bucket. ``check`` reads every segment
HEAD lists (each against its hash) and asks for every pack and large object they
name (one HEAD request each, no download). ``repair`` writes a new HEAD without
what cannot be used: a damaged segment is dropped, a segment naming objects that
are gone is rewritten without them and without its records (which of them name
the lost objects only the records say). No object is deleted (a rewritten
segment is retired like a merged-away one: deleted a grace period later, see
``repro.remote.index``); a push from a store that has the dropped records lists
them again and sends what the remote lacks. The repaired HEAD gets a new log id,
so every local copy of the index is rebuilt at its next sync.

``check`` also lists the uploads pushes started and did not finish (S3 multipart
uploads, a folder remote's temp files), which hold space and are invisible to
the index; ``repair`` aborts those whose object is on the remote already (sent
whole by another push: nothing resumes an upload of a key that exists) and those
idle longer than ``stale_after`` (a push that
resumes one sends parts to it, so an upload in use is never idle that long).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from repro.errors import ConflictError, RemoteIndexDamaged, UnsafePath
from repro.remote import index as rindex
from repro.remote.base import CasConflict, Remote, Unfinished
from repro.remote.segment import Segment
from repro.remote.spec import check_key

#: An unfinished upload nothing arrived for in this long is abandoned (seconds).
STALE_UPLOAD = 24 * 3600.0


@dataclass
class IndexCheck:
    """What ``check`` found (and, after ``repair``, what it changed)."""

    segments: int = 0
    records: int = 0
    keys: int = 0
    #: segment -> why it cannot be used
    damaged: dict[str, str] = field(default_factory=dict)
    #: segment -> pack and object keys it names that the remote does not have
    missing: dict[str, list[str]] = field(default_factory=dict)
    dropped_records: int = 0
    repaired: bool = False
    head: rindex.Head = field(default_factory=rindex.Head)
    #: uploads started and not finished; those idle over ``stale_after`` seconds are stale
    uploads: list[Unfinished] = field(default_factory=list)
    stale_after: float = STALE_UPLOAD
    #: the uploads (ids) whose object is on the remote already: stale whatever their age
    superseded: set[str] = field(default_factory=set)
    aborted: list[Unfinished] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.damaged and not self.missing

    @property
    def stale(self) -> list[Unfinished]:
        return [u for u in self.uploads if self._is_stale(u)]

    def _is_stale(self, upload: Unfinished) -> bool:
        return upload.idle > self.stale_after or upload.upload in self.superseded

    def to_dict(self) -> dict[str, Any]:
        return {"segments": self.segments, "records": self.records, "keys": self.keys,
                "damaged": [{"segment": s, "why": w} for s, w in sorted(self.damaged.items())],
                "missing": [{"segment": s, "key": k} for s, keys in sorted(self.missing.items())
                            for k in keys],
                "ok": self.ok, "repaired": self.repaired, "dropped_records": self.dropped_records,
                "uploads": [{"key": u.key, "upload": u.upload, "bytes": u.size,
                             "idle_hours": round(u.idle / 3600, 2),
                             "stale": self._is_stale(u),
                             "superseded": u.upload in self.superseded} for u in self.uploads],
                "aborted": len(self.aborted)}


def _keys(segment: Segment) -> set[str]:
    return {rindex.pack_key(p) if p else rindex.object_key(oid)
            for oid, (p, _, _) in segment.objects.items()}


def check(remote: Remote, *, stale_after: float = STALE_UPLOAD) -> IndexCheck:
    """What HEAD lists, checked, and the unfinished uploads. A segment gone because a
    push merged it away while this ran (HEAD moved) is not damage: the check starts
    again on the new HEAD."""
    for _ in range(rindex.SYNC_RETRIES):
        found, gone = _check(remote, rindex.read_head(remote))
        if not gone or rindex.read_head(remote).version == found.head.version:
            break
    found.uploads, found.stale_after = remote.unfinished(), stale_after
    found.superseded = {u.upload for u in found.uploads if _is_there(remote, u.key)}
    return found


def _is_there(remote: Remote, key: str) -> bool:
    """Whether the remote has ``key`` (False for a key no push makes: not ours to judge)."""
    try:
        return bool(key) and remote.exists(check_key(key))
    except UnsafePath:
        return False


def _check(remote: Remote, head: rindex.Head) -> tuple[IndexCheck, bool]:
    """What ``head`` lists, checked; and whether a segment it lists is gone."""
    found = IndexCheck(head=head)
    keys_of: dict[str, set[str]] = {}
    gone = False
    for entry in found.head.entries:
        found.segments += 1
        try:
            segment = rindex.fetch_segment(remote, entry.seg)
        except RemoteIndexDamaged as exc:
            found.damaged[entry.seg] = str(exc)
            gone = gone or isinstance(exc, rindex.SegmentGone)
            continue
        found.records += len(segment.records | segment.partial)
        keys_of[entry.seg] = _keys(segment)
    present = {key: remote.exists(key) for key in set().union(*keys_of.values())}
    found.keys = len(present)
    for seg, keys in keys_of.items():
        absent = sorted(k for k in keys if not present[k])
        if absent:
            found.missing[seg] = absent
    return found, gone


def repair(remote: Remote, found: IndexCheck) -> IndexCheck:
    """A new HEAD without what ``found`` says cannot be used, by compare-and-swap on the
    HEAD ``check`` read (refused when a push moved it meanwhile: check again); and the
    stale uploads aborted."""
    for upload in found.stale:
        remote.abort(upload)
        found.aborted.append(upload)
    if found.ok:
        return found
    entries = []
    rewritten = []
    for entry in found.head.entries:
        if entry.seg in found.damaged:
            continue
        if entry.seg in found.missing:
            try:
                read = rindex.fetch_segment(remote, entry.seg)
            except rindex.SegmentGone:  # merged away by a push since the check
                raise _moved() from None
            segment = _without(read, set(found.missing[entry.seg]), found)
            seg, size = rindex.upload(remote, segment)
            rewritten.append(entry.seg)
            entry = rindex.Entry(seg, entry.start, entry.end, size)
        entries.append(entry)
    now = time.time()  # the rewritten ones go the way of merged-away ones
    new = rindex.Head(uuid.uuid4().hex, entries, retired=[
        *rindex.sweep_retired(remote, found.head, entries), *((s, now) for s in rewritten)])
    try:
        remote.replace(rindex.HEAD, new.to_bytes(), found.head.version)
    except CasConflict:
        raise _moved() from None
    found.repaired = True
    return found


def _moved() -> ConflictError:
    return ConflictError("the remote's index moved while it was checked (a push)",
                         hint="run the check again")


def _without(segment: Segment, gone: set[str], found: IndexCheck) -> Segment:
    kept = Segment(tags=set(segment.tags))
    lost: set[str] = set()
    for oid, where in segment.objects.items():
        key = rindex.pack_key(where[0]) if where[0] else rindex.object_key(oid)
        if key in gone:
            lost.add(oid)
        else:
            kept.objects[oid] = where
    if lost:  # which of its records name them is in the records: drop them all
        found.dropped_records += len(segment.records | segment.partial)
    else:
        kept.records, kept.partial = set(segment.records), set(segment.partial)
        kept.thumbs = dict(segment.thumbs)
    return kept
