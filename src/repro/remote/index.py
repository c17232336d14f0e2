"""The remote's index of its own contents, kept as objects on the remote.

Nobody lists the bucket. ``index/HEAD`` (small, moved only by compare-and-swap)
names the index segments in order; each segment (``index/seg/<blake3>``,
immutable, named by the hash of its bytes) says which objects one push added,
where each lives (a pack and its offset, or a loose object), and which records.
A push uploads its packs and objects first and publishes them by appending its
segment to HEAD last: nothing half-sent is ever listed as present. Segments are
cached locally once read (they never change), so syncing costs the new segments
only: O(new), not O(remote).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from repro.errors import RemoteError, RemoteIntegrity
from repro.objects.atomic import write_bytes
from repro.objects.hashing import hash_bytes
from repro.objects.ids import is_id
from repro.remote.base import CasConflict, Remote, Version

HEAD = "index/HEAD"
FORMAT = 1
#: Objects up to this size travel in packs; larger ones (model files) loose, multipart.
PACK_MAX_OBJECT = 16 * 1024 * 1024
#: A pack is closed at about this size.
PACK_TARGET = 64 * 1024 * 1024
CAS_RETRIES = 50

#: Where an object is: (pack hex or None for loose, offset, size).
Location = tuple[str | None, int, int]


def object_key(oid: str) -> str:
    return f"objects/{oid[:2]}/{oid[2:]}"


def pack_key(pack: str) -> str:
    return f"packs/{pack}.pack"


def segment_key(seg: str) -> str:
    return f"index/seg/{seg}"


@dataclass
class RemoteIndex:
    """What the remote holds, as its HEAD and segments say."""

    segments: list[str] = field(default_factory=list)
    objects: dict[str, Location] = field(default_factory=dict)
    records: set[str] = field(default_factory=set)
    #: records pushed without their model versions (``--no-models``): a later push
    #: with models looks at them again
    partial: set[str] = field(default_factory=set)
    #: tag names pushes have set (their values live in ``tags/NAME``)
    tags: set[str] = field(default_factory=set)
    version: Version | None = None

    @property
    def all_records(self) -> set[str]:
        return self.records | self.partial

    def add_segment(self, seg: str, data: bytes) -> None:
        try:
            body = orjson.loads(data)
            for oid, (pack, offset, size) in body["objects"].items():
                self.objects[oid] = (pack, int(offset), int(size))
            self.records.update(body["records"])
            self.partial.difference_update(body["records"])
            self.partial.update(set(body.get("partial", ())) - self.records)
            self.tags.update(body.get("tags", ()))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise RemoteIntegrity(f"the remote index segment {seg} is damaged") from None
        self.segments.append(seg)


def _parse_head(data: bytes) -> list[str]:
    try:
        head = orjson.loads(data)
        segs = [str(s) for s in head["segments"]]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise RemoteIntegrity(f"the remote's {HEAD} is damaged",
                              hint="restore it from a backup of the remote; objects are intact"
                              ) from None
    if head.get("format") != FORMAT or not all(is_id(s) for s in segs):
        raise RemoteIntegrity(f"the remote's {HEAD} has an unknown format")
    return segs


def load(remote: Remote, cache: Path) -> RemoteIndex:
    """Read HEAD and every segment it names (from the local cache when seen before)."""
    index = RemoteIndex()
    got = remote.read_versioned(HEAD)
    if got is None:
        return index
    data, index.version = got
    for seg in _parse_head(data):
        index.add_segment(seg, _segment(remote, cache, seg))
    return index


def _segment(remote: Remote, cache: Path, seg: str) -> bytes:
    cached = cache / seg
    try:
        data = cached.read_bytes()
        if hash_bytes(data) == seg:
            return data
    except FileNotFoundError:
        pass
    data = remote.get(segment_key(seg))
    if hash_bytes(data) != seg:
        raise RemoteIntegrity(f"the remote index segment {seg} holds other bytes "
                              f"(blake3 {hash_bytes(data)})")
    cache.mkdir(parents=True, exist_ok=True)
    write_bytes(cached, data)
    return data


def segment_bytes(objects: dict[str, Location], records: Iterable[str],
                  tags: Iterable[str] = (), *, partial: bool = False) -> bytes:
    records = sorted(records)
    return orjson.dumps({"objects": {k: list(v) for k, v in objects.items()},
                         "records": [] if partial else records,
                         "partial": records if partial else [], "tags": sorted(tags)},
                        option=orjson.OPT_SORT_KEYS)


def publish(remote: Remote, index: RemoteIndex, data: bytes) -> None:
    """Upload a segment and append it to HEAD by compare-and-swap, re-reading HEAD and
    retrying when another push got there first (segments only add: nothing is lost)."""
    seg = hash_bytes(data)
    remote.put_if_absent(segment_key(seg), data)
    expected, segments = index.version, list(index.segments)
    for _ in range(CAS_RETRIES):
        head = orjson.dumps({"format": FORMAT, "segments": [*segments, seg]})
        try:
            index.version = remote.replace(HEAD, head, expected)
            index.segments = [*segments, seg]
            return
        except CasConflict:
            got = remote.read_versioned(HEAD)
            if got is None:
                expected, segments = None, []
            else:
                segments, expected = _parse_head(got[0]), got[1]
    raise RemoteError(f"could not update the remote's {HEAD} after {CAS_RETRIES} tries",
                      hint="many pushes at once: try again")
