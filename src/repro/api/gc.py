"""``repro gc``: remove objects nothing names, once past a grace period. An
output's thumbnail is kept as long as the output; the refs of thumbnails whose
output is gone are removed.

Never deletes what it could not read: a record over the bound is scanned for
every id it mentions; an object that cannot be opened is kept, and while one
of them may be a record (nothing readable names it), nothing is removed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from repro.api.maintenance import ANY_ID, kept_objects, referenced_objects
from repro.api.repository import Repository
from repro.api.store_walk import IdSet
from repro.errors import NotFound
from repro.record import SchemaError, from_bytes


@dataclass
class GcResult:
    removed: int = 0
    bytes: int = 0
    objects: list[str] = field(default_factory=list)
    #: Objects gc could not read and kept; when one of them may be a record,
    #: nothing was removed (what it names is unknown).
    unreadable: list[str] = field(default_factory=list)
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"removed": self.removed, "bytes": self.bytes,
                             "objects": self.objects}
        if self.unreadable:
            d["unreadable"] = self.unreadable
        if self.note:
            d["note"] = self.note
        return d


def _ids_in_object(repo: Repository, oid: str) -> set[str]:
    """Every id-like string in an object too large to read whole (streamed, bounded memory)."""
    found: set[str] = set()
    tail = b""
    with repo.store.open(oid) as f:
        while chunk := f.read(1 << 24):
            data = tail + chunk
            found.update(m.decode() for m in ANY_ID.findall(data))
            tail = data[-63:]
    return found


def reachable_objects(repo: Repository) -> tuple[IdSet, list[str]]:
    """Every object a record, tag or kept file names (and the records), and the
    objects that could not be read and that no readable record names: any of
    them may be a record, whose references are then unknown. The ids are kept
    on disk (``IdSet``): memory stays flat in the size of the store."""
    reachable = IdSet(kept_objects(repo))
    unread: dict[str, str] = {}
    for rid, data in repo.iter_record_bytes(unread.__setitem__):
        reachable.add(rid)
        try:
            reachable.update(oid for oid, _ in referenced_objects(from_bytes(data, id=rid)))
        except (orjson.JSONDecodeError, SchemaError):
            # Never delete what could not be read: keep every id it mentions.
            reachable.update(m.decode() for m in ANY_ID.findall(data))
    unknown = []
    for oid in sorted(unread):
        try:
            ids = _ids_in_object(repo, oid)  # a record over the bound
        except (OSError, NotFound):
            if oid not in reachable:
                unknown.append(oid)
            ids = set()
        reachable.add(oid)
        reachable.update(ids)
    # A thumbnail lives as long as its output (``lineage.thumbnails``).
    for output, thumb in repo.thumbs.refs():
        if thumb is not None and output in reachable:
            reachable.add(thumb)
    return reachable, unknown


def gc(repo: Repository, *, dry_run: bool = False, grace_days: float | None = None) -> GcResult:
    """Remove objects nothing names, older than the grace period. An object that
    cannot be read is kept; if it may be a record, nothing is removed."""
    if grace_days is None:
        grace_days = float(repo.config.get("gc", "grace_days"))
    cutoff = time.time() - grace_days * 86400
    result = GcResult()
    with repo.lock():
        reachable, unknown = reachable_objects(repo)
        try:
            _remove_unreachable(repo, reachable, unknown, cutoff, dry_run, result)
            if not dry_run and not unknown:
                # The refs of thumbnails whose output is gone, and torn ones.
                repo.thumbs.prune(lambda o: o not in reachable and o not in repo.store)
        finally:
            reachable.close()
    return result


def _remove_unreachable(repo: Repository, reachable: IdSet, unknown: list[str], cutoff: float,
                        dry_run: bool, result: GcResult) -> None:
    result.unreadable = unknown
    if unknown:
        result.note = (f"{len(unknown)} object(s) cannot be read and may be records "
                       "naming others: nothing removed; run `repro fsck`")
        return
    for oid in repo.store:
        if oid in reachable:
            continue
        try:
            if repo.store.age(oid) > cutoff:
                continue
            size = repo.store.size(oid)
        except (NotFound, OSError):
            continue
        result.removed += 1
        result.bytes += size
        result.objects.append(oid)
    if not dry_run:
        # Loose objects are unlinked; packs that hold any are rewritten without them.
        repo.store.remove(result.objects)
        repo.store.merge_packs()
