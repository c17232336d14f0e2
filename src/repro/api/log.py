"""``repro log``: records newest first (or a record and its ancestors), filtered
as ``git log`` filters commits: by prompt words, model, tool, level, tag, date."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from repro.api.query import _every_version, model_versions
from repro.api.repository import Repository
from repro.errors import UsageError
from repro.lineage.index import filtered_ids
from repro.record import Record

_AGO = re.compile(r"(\d+)\s*(minute|min|hour|h|day|d|week|w|month|year|y)s?(\s+ago)?")
_UNITS = {"minute": 60, "min": 60, "hour": 3600, "h": 3600, "day": 86400, "d": 86400,
          "week": 7 * 86400, "w": 7 * 86400, "month": 30 * 86400, "year": 365 * 86400,
          "y": 365 * 86400}


def parse_when(text: str, *, now: datetime | None = None) -> datetime:
    """A date as ``git log --since`` takes one: ``2026-03-01``, an ISO date and time,
    ``yesterday``, ``today``, or ``3 days ago`` (``2w``, ``12 hours``...); UTC."""
    now = now or datetime.now(UTC)
    t = text.strip().lower()
    if t == "today":
        return now.replace(hour=0, minute=0, second=0, microsecond=0)
    if t == "yesterday":
        return now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    if m := _AGO.fullmatch(t):
        return now - timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"not a date: {text!r}",
                         hint="give 2026-03-01, 2026-03-01T14:00, yesterday or '3 days ago'"
                         ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _iso(when: datetime) -> str:
    """As records spell capture times (``...T12:00:00.000Z``), so strings compare."""
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def log(repo: Repository, target: Record | None, *, limit: int | None = None,
        descendants: bool = False, grep: Iterable[str] = (), model: str | None = None,
        tool: str | None = None, level: str | None = None, tag: str | None = None,
        since: str | None = None, until: str | None = None,
        cwd: Path | None = None) -> Iterator[Record]:
    """``target`` then its ancestors (or descendants), or every record newest first,
    keeping those that match every filter given: all ``grep`` words in the prompt
    (case-insensitive), ``model`` (a file: that version; a name: every version seen
    under it; a hash: that version), ``tool``, ``level``, ``tag`` (a name or glob),
    captured at or after ``since`` and before ``until``. One record at a time: memory
    stays flat however many records match."""
    words = [w.lower() for w in grep]
    start = _iso(parse_when(since)) if since else None
    end = _iso(parse_when(until)) if until else None
    versions = None
    if model is not None:
        found = model_versions(repo, model, cwd=cwd)
        by_file = (cwd or Path.cwd()).joinpath(model).is_file()
        versions = set(found if by_file or _looks_like_hash(model) else
                       _every_version(repo, found))
    tagged = None
    if tag is not None:
        tagged = {rid for name, rid in repo.refs.tags() if fnmatch.fnmatchcase(name, tag)}
        if not tagged:
            raise UsageError(f"no tag matches {tag!r}")

    def wanted(r: Record) -> bool:
        if tagged is not None and r.id not in tagged:
            return False
        if tool is not None and r.tool.name != tool:
            return False
        if level is not None and r.level != level:
            return False
        if start is not None and (r.captured.at or "") < start:
            return False
        if end is not None and (r.captured.at or "") >= end:
            return False
        if versions is not None and not versions & {m.blake3 for m in r.models}:
            return False
        text = f"{r.params.get('prompt') or ''}".lower()
        return all(w in text for w in words)

    if target is not None:
        walk = repo.index.descendants if descendants else repo.index.ancestors
        records: Iterator[Record] = (repo.load_record(i) for i in
                                     (target.id, *walk(target.id, None)))
    else:
        ids = filtered_ids(repo.conn, tool=tool, level=level, since=start, until=end,
                           models=versions, among=tagged)
        records = (repo.load_record(i) for i in ids)
    return _matching(records, wanted, limit)


def _matching(records: Iterator[Record], wanted: Callable[[Record], bool],
              limit: int | None) -> Iterator[Record]:
    n = 0
    for r in records:
        if limit is not None and n >= limit:
            return
        if wanted(r):
            n += 1
            yield r


def _looks_like_hash(text: str) -> bool:
    t = text.lower().removeprefix("blake3:").removeprefix("0x")
    return len(t) >= 6 and all(c in "0123456789abcdef" for c in t)
