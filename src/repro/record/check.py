"""Every field of a record checked against the schema: what ``fsck`` reports.

``check(data)`` takes the JSON a record object holds and yields sentences,
one per problem; none for a well-formed record of any schema version.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from repro.record.codec import INT_MAX, INT_MIN
from repro.record.hashes import is_blake3, normalise_hash
from repro.record.types import SCHEMA, SCHEMAS, Record, SchemaError
from repro.record.vocabulary import LEVELS, METADATA_KINDS, MODEL_ROLES, RELATIONS, TOOLS

_TOP = {"schema", "output", "tool", "params", "models", "inputs", "parents", "source",
        "environment", "reproducibility", "captured", "message", "supersedes"}
_OUTPUT = {"blake3", "path", "size", "media_type", "width", "height", "sha256", "mtime",
           "pixels_md5", "frames"}
_MODEL = {"role", "name", "path", "blake3", "size", "strength", "strength_clip", "folder",
          "node", "recorded", "hashes", "found_by", "base_model"}
_INPUT = {"role", "name", "path", "blake3", "node", "recorded", "hashes"}
_SOURCE = {"format", "formats", "metadata", "blobs", "warnings", "provenance"}
_CAPTURED = {"at", "host", "user", "store_mode"}
_TOOL = {"name", "version", "commit"}
_PARENT = {"id", "relation", "changed"}


def check(data: Any) -> list[str]:
    """Schema problems of a record's JSON, as sentences (empty when well-formed)."""
    if not isinstance(data, dict):
        return ["the record is not a JSON object"]
    problems = list(_structure(data))
    if not problems:
        try:
            Record.from_dict(data)
        except SchemaError as exc:
            problems.append(str(exc))
    return problems


def _structure(d: dict[str, Any]) -> Iterator[str]:
    schema = d.get("schema")
    if schema not in SCHEMAS:
        yield f"schema is {schema!r}, not one of {', '.join(SCHEMAS)}"
        return
    v2 = schema == SCHEMA
    for key in ("output", "tool", "params", "models", "inputs", "parents", "source",
                "reproducibility", "captured"):
        if key not in d:
            yield f"missing field {key!r}"
    yield from _unknown("record", d, _TOP)
    yield from _output(d.get("output"))
    tool = d.get("tool")
    if isinstance(tool, dict):
        yield from _unknown("tool", tool, _TOOL)
        if tool.get("name") not in TOOLS:
            yield f"tool.name {tool.get('name')!r} is not a known tool"
        yield from _strings("tool", tool, ("version", "commit"))
    else:
        yield "tool is not an object"
    params = d.get("params", {})
    if isinstance(params, dict):
        yield from _numbers("params", params)
        if not isinstance(params.get("samplers", []), list):
            yield "params.samplers is not a list"
    else:
        yield "params is not an object"
    yield from _entries("models", d.get("models", []), _MODEL, MODEL_ROLES, v2)
    yield from _entries("inputs", d.get("inputs", []), _INPUT, None, v2)
    yield from _parents(d.get("parents", []), v2)
    source = d.get("source", {})
    if isinstance(source, dict):
        yield from _unknown("source", source, _SOURCE)
        if source.get("metadata", "none") not in METADATA_KINDS:
            yield f"source.metadata {source.get('metadata')!r} is not a metadata kind"
        blobs = source.get("blobs", {})
        if not isinstance(blobs, dict) or not all(is_blake3(v) for v in blobs.values()):
            yield "source.blobs must map names to object ids"
    else:
        yield "source is not an object"
    if d.get("environment") is not None and not isinstance(d["environment"], dict):
        yield "environment is neither an object nor null"
    yield from _assessment(d.get("reproducibility"), v2)
    captured = d.get("captured", {})
    if isinstance(captured, dict):
        yield from _unknown("captured", captured, _CAPTURED)
        yield from _strings("captured", captured, ("at", "host", "user", "store_mode"))
    else:
        yield "captured is not an object"
    if not isinstance(d.get("message", ""), str):
        yield "message is not text"
    if "supersedes" in d and not is_blake3(d["supersedes"]):
        yield f"supersedes {d['supersedes']!r} is not a record id"


def _unknown(where: str, d: Mapping[str, Any], allowed: set[str]) -> Iterator[str]:
    for key in sorted(set(d) - allowed):
        yield f"{where} has an undeclared field {key!r}"


def _strings(where: str, d: Mapping[str, Any], keys: tuple[str, ...]) -> Iterator[str]:
    for key in keys:
        if key in d and not isinstance(d[key], str):
            yield f"{where}.{key} is not text"


def _path(where: str, value: Any) -> Iterator[str]:
    if value is None:
        return
    if not isinstance(value, str) or not value:
        yield f"{where}.path is not text"
    elif "\x00" in value:
        yield f"{where}.path holds a NUL byte"


def _count(where: str, d: Mapping[str, Any], keys: tuple[str, ...]) -> Iterator[str]:
    for key in keys:
        value = d.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 0):
            yield f"{where}.{key} is not a count"


def _output(out: Any) -> Iterator[str]:
    if not isinstance(out, dict):
        yield "output is not an object"
        return
    yield from _unknown("output", out, _OUTPUT)
    if not is_blake3(out.get("blake3")):
        yield "output.blake3 is not a 64-hex BLAKE3"
    yield from _path("output", out.get("path"))
    yield from _count("output", out, ("size", "width", "height", "frames"))
    yield from _strings("output", out, ("media_type", "sha256", "mtime", "pixels_md5"))


def _hash_map(where: str, value: Any) -> Iterator[str]:
    if not isinstance(value, dict):
        yield f"{where} is not an object"
        return
    for scheme, digest in value.items():
        if normalise_hash(digest) != digest:
            yield f"{where}.{scheme} is not lower-case hex"


def _entries(kind: str, entries: Any, allowed: set[str], roles: tuple[str, ...] | None,
             v2: bool) -> Iterator[str]:
    if not isinstance(entries, list):
        yield f"{kind} is not a list"
        return
    for n, e in enumerate(entries):
        where = f"{kind}[{n}]"
        if not isinstance(e, dict):
            yield f"{where} is not an object"
            continue
        yield from _unknown(where, e, allowed)
        role = e.get("role")
        if not isinstance(role, str) or (roles is not None and role not in roles):
            yield f"{where}.role {role!r} is not a known role"
        if "blake3" in e and not is_blake3(e["blake3"]):
            yield f"{where}.blake3 is not a 64-hex BLAKE3"
        yield from _path(where, e.get("path"))
        yield from _strings(where, e, ("name", "folder", "node"))
        for key in ("recorded", "hashes"):
            if key in e:
                yield from _hash_map(f"{where}.{key}", e[key])
        if kind == "models":
            yield from _count(where, e, ("size",))
            for key in ("strength", "strength_clip"):
                value = e.get(key)
                if value is not None and (isinstance(value, bool)
                                          or not isinstance(value, int | float)):
                    yield f"{where}.{key} is not a number"


def _parents(parents: Any, v2: bool) -> Iterator[str]:
    if not isinstance(parents, list):
        yield "parents is not a list"
        return
    for n, p in enumerate(parents):
        where = f"parents[{n}]"
        if isinstance(p, str) and not v2:
            if not is_blake3(p):
                yield f"{where} {p!r} is not a record id"
            continue
        if not isinstance(p, dict):
            yield f"{where} is not an object"
            continue
        yield from _unknown(where, p, _PARENT)
        if not is_blake3(p.get("id")):
            yield f"{where}.id {p.get('id')!r} is not a record id"
        if p.get("relation") not in RELATIONS:
            yield f"{where}.relation {p.get('relation')!r} is not one of {', '.join(RELATIONS)}"


def _assessment(value: Any, v2: bool) -> Iterator[str]:
    if not isinstance(value, dict):
        yield "reproducibility is not an object"
        return
    if value.get("level") not in LEVELS:
        yield f"reproducibility.level {value.get('level')!r} is not one of {', '.join(LEVELS)}"
    reasons = value.get("reasons", [])
    if not isinstance(reasons, list):
        yield "reproducibility.reasons is not a list"
        return
    for n, r in enumerate(reasons):
        ok = (isinstance(r, str) if not v2 else
              isinstance(r, dict) and isinstance(r.get("code"), str)
              and isinstance(r.get("text"), str) and set(r) == {"code", "text"})
        if not ok:
            yield f"reproducibility.reasons[{n}] is not a reason"


def _numbers(where: str, value: Any) -> Iterator[str]:
    """Numbers a JSON reader may round: floats that are not finite, integers past 64 bits."""
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            yield f"{where} is an integer JSON cannot carry exactly"
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            yield f"{where} is not a finite number"
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _numbers(f"{where}.{k}", v)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _numbers(f"{where}[{i}]", v)
