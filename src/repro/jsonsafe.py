"""JSON from untrusted files, bounded.

orjson is fast and refuses nesting past 1024 levels, but it also refuses the
bare ``NaN``/``Infinity`` that Python's ``json.dumps`` writes (ComfyUI graphs
carry them). Those files fall back to the standard library, where NaN becomes
None and deep nesting is caught as a clear error instead of a crash.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from repro.errors import InputError, LimitExceeded

#: Largest JSON text we parse from a file's metadata.
MAX_JSON_BYTES = 64 * 1024 * 1024


def loads(text: str | bytes, *, what: str = "metadata") -> Any:
    """Parse JSON text from an untrusted source.

    Raises ``LimitExceeded`` for text past ``MAX_JSON_BYTES`` or nested too
    deeply, ``InputError`` for text that is not JSON. Integers stay exact
    (seeds reach 2**64-1); NaN and Infinity become None.
    """
    if len(text) > MAX_JSON_BYTES:
        raise LimitExceeded(f"{what}: JSON text of {len(text)} bytes is over the "
                            f"{MAX_JSON_BYTES} byte limit")
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        first_error = str(exc)
    # orjson gives up on NaN, on integers past 64 bits and on deep nesting;
    # the standard library handles the first two and we bound the third.
    if "recursion" in first_error.lower():
        raise LimitExceeded(f"{what}: JSON nested too deeply")
    try:
        return json.loads(text, parse_constant=lambda _name: None)
    except RecursionError:
        raise LimitExceeded(f"{what}: JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{what}: not valid JSON ({exc})") from None
