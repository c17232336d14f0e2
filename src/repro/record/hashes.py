"""The one spelling of a hash: lower-case hex, no ``0x``, no scheme prefix.

Files write hashes in many ways (``0xABC...`` from SwarmUI, ``sha256:...``
from ModelSpec, upper case from A1111 infotexts, 10 or 12 hex prefixes).
Everything repro keeps or compares goes through ``normalise_hash`` first.
A leaf: it imports nothing from repro.
"""

from __future__ import annotations

import re
from typing import Any

HEX_DIGITS = frozenset("0123456789abcdef")

#: Recorded hashes shorter than this say too little to identify a file.
MIN_PREFIX = 8

#: Longest hash accepted (SHA-512 hex).
MAX_HEX = 128

_PREFIXES = ("blake3:", "sha256:", "autov1:", "autov2:", "autov3:", "0x")
_BLAKE3 = re.compile(r"[0-9a-f]{64}")


def normalise_hash(value: Any, *, min_length: int = 1,
                   lengths: tuple[int, ...] | None = None) -> str | None:
    """``value`` as lower-case hex without ``0x`` or a scheme prefix, or None
    when it is not a hash (not a string, not hex, too short or too long, or not
    one of ``lengths`` when given)."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    for prefix in _PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    if not min_length <= len(text) <= MAX_HEX or not set(text) <= HEX_DIGITS:
        return None
    if lengths is not None and len(text) not in lengths:
        return None
    return text


def is_blake3(value: Any) -> bool:
    """Whether ``value`` is a bare 64-hex BLAKE3 as records spell it."""
    return isinstance(value, str) and _BLAKE3.fullmatch(value) is not None


def file_hash_scheme(hexdigits: str) -> str:
    """The scheme of a whole-file model hash given alone: 8 hex is A1111's
    AutoV1, anything else a (prefix of the) SHA-256."""
    return "autov1" if len(hexdigits) == 8 else "sha256"
