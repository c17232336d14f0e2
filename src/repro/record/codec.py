"""A record's canonical bytes and id, and numbers JSON can carry exactly.

Canonical bytes are ``orjson.dumps(record, option=OPT_SORT_KEYS)``; the id is
their BLAKE3. orjson (like most JSON readers) carries integers of at most 64
bits; a metadata value past that (a 4,000-digit "seed") is kept exactly as
text, and said so, rather than refused or rounded.
"""

from __future__ import annotations

from typing import Any

import blake3
import orjson

from repro.record.types import SCHEMAS, Record

#: The largest record ``add`` writes and maintenance reads: the two must agree,
#: or maintenance would take a record it could not read for garbage.
MAX_RECORD_BYTES = 64 * 1024 * 1024

INT_MIN = -(2**63)
INT_MAX = 2**64 - 1


def canonical_bytes(record: Record) -> bytes:
    return encode(record.to_dict())


def encode(data: dict[str, Any]) -> bytes:
    """A record's JSON (its ``to_dict()``) as canonical bytes: for a writer that
    keeps the JSON too (the index reads it)."""
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def record_id(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


def from_bytes(data: bytes, *, id: str | None = None) -> Record:
    """A record from its stored bytes, its id set (``SchemaError`` or
    ``orjson.JSONDecodeError`` when they are not one)."""
    return Record.from_dict(orjson.loads(data), id=id or record_id(data))


def looks_like_record(data: bytes) -> bool:
    """Cheap test used when scanning raw objects for records."""
    return data[:1] == b"{" and any(f'"schema":"{s}"'.encode() in data for s in SCHEMAS)


def exact_numbers(value: Any, where: str = "") -> tuple[Any, list[str]]:
    """``value`` with every integer JSON cannot carry exactly turned into its
    decimal text, and the places where that happened (``params.seed``)."""
    changed: list[str] = []

    def walk(v: Any, at: str) -> Any:
        if isinstance(v, bool):
            return v
        if isinstance(v, int):
            if INT_MIN <= v <= INT_MAX:
                return v
            changed.append(at)
            try:
                return str(v)
            except ValueError:  # past Python's int-to-text digit limit: hex is exact too
                return hex(v)
        # Most values are plain (``_kept``): kept without spelling out where they are.
        if isinstance(v, dict):
            return {k: x if _kept(x) else walk(x, f"{at}.{k}" if at else str(k))
                    for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [x if _kept(x) else walk(x, f"{at}[{i}]") for i, x in enumerate(v)]
        return v

    return walk(value, where), changed


def _kept(value: Any) -> bool:
    """Whether ``exact_numbers`` keeps a value as it is: text, a float, ``None``, a
    bool, an integer JSON carries exactly (exact types: a subclass is walked)."""
    kind = type(value)
    return kind in _KEPT or (kind is int and INT_MIN <= value <= INT_MAX)


_KEPT = frozenset({str, float, bool, type(None)})
