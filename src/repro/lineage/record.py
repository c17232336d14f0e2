"""Records (schema ``repro.record/1``): canonical bytes and their id.

A record is the commit-like lineage record of one output. Its canonical bytes
are ``orjson.dumps(record, option=OPT_SORT_KEYS)`` and its id is the BLAKE3 of
those bytes. Values a tool did not record are absent, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from repro.objects.hashing import hash_bytes

SCHEMA = "repro.record/1"
REQUIRED = ("schema", "output", "tool", "params", "models", "inputs", "parents", "source",
            "reproducibility", "captured")


def canonical_bytes(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)


def record_id(record: dict[str, Any]) -> str:
    return hash_bytes(canonical_bytes(record))


def looks_like_record(data: bytes) -> bool:
    """Cheap test used when rebuilding the index from raw objects."""
    return data[:1] == b"{" and b'"schema":"repro.record/1"' in data


def check_record(data: dict[str, Any]) -> list[str]:
    """Schema problems of a record, as sentences (empty when it is well-formed)."""
    problems = []
    if data.get("schema") != SCHEMA:
        problems.append(f"schema is {data.get('schema')!r}, not {SCHEMA!r}")
    for key in REQUIRED:
        if key not in data:
            problems.append(f"missing field {key!r}")
    output = data.get("output")
    if not isinstance(output, dict) or not isinstance(output.get("blake3"), str):
        problems.append("output.blake3 missing")
    if not isinstance(data.get("models", []), list):
        problems.append("models is not a list")
    if not isinstance(data.get("parents", []), list):
        problems.append("parents is not a list")
    return problems


@dataclass(frozen=True)
class Record:
    """A stored record: its id and its data."""

    id: str
    data: dict[str, Any]

    @classmethod
    def from_bytes(cls, data: bytes) -> Record:
        return cls(hash_bytes(data), orjson.loads(data))

    @property
    def output(self) -> dict[str, Any]:
        out: dict[str, Any] = self.data.get("output") or {}
        return out

    @property
    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = self.data.get("params") or {}
        return params

    @property
    def models(self) -> list[dict[str, Any]]:
        models: list[dict[str, Any]] = self.data.get("models") or []
        return models

    @property
    def inputs(self) -> list[dict[str, Any]]:
        inputs: list[dict[str, Any]] = self.data.get("inputs") or []
        return inputs

    @property
    def parents(self) -> list[str]:
        parents: list[str] = self.data.get("parents") or []
        return parents

    @property
    def level(self) -> str:
        return str((self.data.get("reproducibility") or {}).get("level", "none"))

    @property
    def tool_name(self) -> str | None:
        tool = self.data.get("tool") or {}
        return tool.get("name")

    def to_dict(self) -> dict[str, Any]:
        """The ``show --json`` view: the record plus its id."""
        return {"id": self.id, **self.data}
