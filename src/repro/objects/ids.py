"""Object ids: 64 lower-case hex digits of a BLAKE3 digest.

Inside records and the index ids are bare hex; where they leave the store for
a person they are spelled ``blake3:<hex>``. An id that is not exactly 64 hex
never becomes a path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NewType, TypeVar

ObjectId = NewType("ObjectId", str)

_HEX64 = re.compile(r"[0-9a-f]{64}")
PREFIX = "blake3:"

T = TypeVar("T")


def check_id(value: str) -> ObjectId:
    """Return ``value`` as an ObjectId (accepting a ``blake3:`` prefix) or raise ValueError."""
    if value.startswith(PREFIX):
        value = value[len(PREFIX):]
    if not _HEX64.fullmatch(value):
        raise ValueError(f"not an object id: {value[:80]!r}")
    return ObjectId(value)


def is_id(value: str) -> bool:
    try:
        check_id(value)
    except ValueError:
        return False
    return True


def prefix_upper(prefix: str) -> str:
    """The smallest string after every string that starts with ``prefix`` (non-empty):
    ``value >= prefix AND value < prefix_upper(prefix)`` is a prefix match an index can serve."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def once(items: Iterable[T], key: Callable[[T], Any] = lambda item: item) -> Iterator[T]:
    """``items`` (sorted, or merged from sorted lists) without the repeats of a
    key: an object both loose and packed, or in two packs, is listed once."""
    last: Any = None
    for item in items:
        if key(item) != last:
            yield item
            last = key(item)
