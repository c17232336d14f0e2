"""One segment of a remote's index: which objects a push added (each in a pack at
an offset, or loose), which records (sent with their model versions, or without:
``partial``), which tag names, and the thumbnail of each of those records' outputs
the pushing store had (``thumbs``: output id -> thumbnail id, the thumbnail an
object of the segment like any other; absent from segments older code wrote, and
ignored by older code reading new ones). A segment is immutable, stored under the BLAKE3
of its bytes; segments only ever add, so any number of them merge into one by
union (what compaction does) and applying one twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from repro.errors import RemoteIndexDamaged, UsageError
from repro.lineage.refs import check_tag_name
from repro.objects.ids import is_id

#: Where an object is: (pack hex or None for loose, offset, size).
Location = tuple[str | None, int, int]


@dataclass
class Segment:
    objects: dict[str, Location] = field(default_factory=dict)
    records: set[str] = field(default_factory=set)
    #: records sent without their model versions (``--no-models``)
    partial: set[str] = field(default_factory=set)
    tags: set[str] = field(default_factory=set)
    #: output id -> the id of its thumbnail object (``repro.lineage.thumbnails``)
    thumbs: dict[str, str] = field(default_factory=dict)

    def merge(self, other: Segment) -> None:
        """Add ``other`` to this one: the union (a record sent with its models once stays so)."""
        for oid, where in other.objects.items():
            self.objects.setdefault(oid, where)
        self.records |= other.records
        self.partial = (self.partial | other.partial) - self.records
        self.tags |= other.tags
        for output, thumb in other.thumbs.items():
            self.thumbs.setdefault(output, thumb)

    def to_bytes(self) -> bytes:
        """The segment's JSON; ``thumbs`` only when it has some, so a segment without
        thumbnails has the same bytes (and name) as older code gives it."""
        body: dict[str, object] = {"objects": {k: list(v) for k, v in self.objects.items()},
                                   "records": sorted(self.records),
                                   "partial": sorted(self.partial - self.records),
                                   "tags": sorted(self.tags)}
        if self.thumbs:
            body["thumbs"] = self.thumbs
        return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def new_segment(objects: dict[str, Location], records: Iterable[str], tags: Iterable[str] = (),
                *, partial: bool = False, thumbs: dict[str, str] | None = None) -> Segment:
    records = set(records)
    return Segment(dict(objects), set() if partial else records, records if partial else set(),
                   set(tags), dict(thumbs or {}))


def parse_segment(name: str, data: bytes) -> Segment:
    """The segment ``name`` from its bytes; ``RemoteIntegrity`` when they are not one."""
    try:
        body = orjson.loads(data)
        objects: dict[str, Location] = {}
        for oid, (pack, offset, size) in body["objects"].items():
            if not is_id(oid) or (pack is not None and not is_id(pack)):
                raise ValueError(oid)
            objects[oid] = (pack, int(offset), int(size))
        records = {str(r) for r in body["records"]}
        partial = {str(r) for r in body.get("partial", ())}
        tags = {str(t) for t in body.get("tags", ())}
        thumbs = {str(o): str(t) for o, t in body.get("thumbs", {}).items()}
        if not all(is_id(r) for r in records | partial | thumbs.keys() | set(thumbs.values())):
            raise ValueError("record")
        for tag in tags:  # a name that could leave tags/ is not one
            check_tag_name(tag)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError,
            UsageError):
        raise RemoteIndexDamaged(f"the remote index segment {name} is damaged "
                                 "(not a segment)") from None
    return Segment(objects, records, partial - records, tags, thumbs)

