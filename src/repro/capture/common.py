"""Small helpers shared by the generator readers: typed values, hash keys, rating."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from repro.capture.types import Generation, ModelRef

_INT_RE = re.compile(r"[+-]?\d+")
_SIZE_RE = re.compile(r"(\d+)x(\d+)")
_MAX_DIGITS = 4300


def to_int(value: Any) -> int | None:
    """An exact integer from an int, an integral float or a decimal string; else None.

    Seeds reach 2**64-1 and Fooocus writes them as strings, so strings are
    converted with ``int`` (never through float).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        text = value.strip()
        # Any length Python converts (4,300 digits): a record keeps one past 64 bits
        # exactly as text (``record.exact_numbers``) rather than dropping it.
        if len(text) <= _MAX_DIGITS and _INT_RE.fullmatch(text):
            return int(text)
        try:
            number = float(text)
        except ValueError:
            return None
        if number.is_integer() and abs(number) < 2**53:
            return int(number)
    return None


def to_float(value: Any) -> float | None:
    """A float from a number or a numeric string; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 64:
            return None
        try:
            return float(text)
        except ValueError:
            return None
    return None


def parse_size(value: Any) -> tuple[int, int] | None:
    """``"512x768"`` -> ``(512, 768)``; None for anything else."""
    if isinstance(value, str) and (m := _SIZE_RE.fullmatch(value.strip())):
        return int(m[1]), int(m[2])
    return None


def stem(name: str) -> str:
    """Lower-case file name without folders and extension, for matching names."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    if "." in base:
        head, _, ext = base.rpartition(".")
        if head and len(ext) <= 12:
            base = head
    return base.strip().lower()


def find_model(models: list[ModelRef], role: str | None, name: str) -> ModelRef | None:
    """The model with that role (any role if None) whose name or stem matches."""
    wanted = stem(name)
    for model in models:
        if role is not None and model.role != role:
            continue
        if model.name is not None and (model.name == name or stem(model.name) == wanted):
            return model
    return None


def rate_flat(gen: Generation) -> None:
    """Set ``level``/``reasons`` for flat-parameter generators (A1111-like, Fooocus...).

    Full needs a seed and every model named or hashed; anything less is
    partial, with reasons a person can act on. Reasons already present (e.g.
    a closed-service model) keep the level at partial.
    """
    reasons = list(gen.reasons)
    seed = gen.params.get("seed")
    if seed is None:
        reasons.append("no seed is recorded: the same settings give a different image each run")
    elif isinstance(seed, int) and seed < 0:
        reasons.append(f"the seed is recorded as {seed} (random): the seed actually used is unknown")
    if not any(m.role in ("checkpoint", "unet") for m in gen.models):
        reasons.append("no checkpoint is recorded: the model that made the image is unknown")
    for model in gen.models:
        if not model.name and not model.hashes:
            reasons.append(f"a {model.role} is recorded with neither a name nor a hash")
    gen.reasons = reasons
    gen.level = "partial" if reasons else "full"


def put(params: dict[str, Any], key: str, value: Any) -> None:
    """Set ``params[key]`` unless the value is None (absent means unknown)."""
    if value is not None:
        params[key] = value


#: The numeric parameters, and how a recorded value becomes one.
NUMBERS: dict[str, Callable[[Any], Any]] = {
    "seed": to_int, "steps": to_int, "width": to_int, "height": to_int, "clip_skip": to_int,
    "batch_size": to_int, "cfg": to_float, "denoise": to_float,
}


def take(params: dict[str, Any], data: dict[str, Any], fields: dict[str, str]) -> set[str]:
    """Set ``params[name]`` from ``data[key]`` for each ``name: key`` of ``fields``.

    Numeric parameters are converted (``NUMBERS``); any other is kept only
    when it is a string. Absent or unreadable values are left out. Returns
    the keys of ``data`` this read, to tell the rest apart as extras.
    """
    for name, key in fields.items():
        put(params, name, convert(name, data.get(key)))
    return set(fields.values())


def put_known(params: dict[str, Any], names: dict[str, str], key: str, value: Any) -> bool:
    """Set the parameter ``names`` maps ``key`` to, when ``value`` converts to it
    (leniently); whether it was set (if not, the caller keeps the value as an extra)."""
    name = names.get(key)
    converted = convert(name, value, lenient=True) if name is not None else None
    if name is None or converted is None:
        return False
    params[name] = converted
    return True


def convert(name: str, value: Any, *, lenient: bool = False) -> Any:
    """``value`` as parameter ``name`` holds it (a number for ``NUMBERS``, else a string), or None.

    ``lenient``: a text parameter written as a number is kept as its text.
    """
    to_number = NUMBERS.get(name)
    if to_number is not None:
        return to_number(value)
    if isinstance(value, str):
        return value
    return str(value) if lenient and isinstance(value, int | float) else None
