"""The record (schema ``repro.record/2``) as typed, immutable values.

A record is the commit-like lineage record of one output. Its canonical bytes
are ``orjson.dumps(record.to_dict(), option=OPT_SORT_KEYS)`` and its id is the
BLAKE3 of those bytes. Values a tool did not record are absent, never guessed.

Every part is a frozen value class (``repro.record.values``: made as a
dataclass is, at a fraction of its start-up cost) with ``to_dict`` and ``from_dict``; ``from_dict``
also reads records of schema ``repro.record/1`` (parents as bare ids, reasons
as sentences, recorded and computed hashes in one map), so that a store made
by earlier versions reads right. ``check`` (in ``repro.record.check``)
validates every field of a record's dict; ``fsck`` uses it.

A leaf: it imports nothing from repro outside this package.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, TypeVar

from repro.record.values import field, fields, value_class

SCHEMA = "repro.record/2"
SCHEMAS = ("repro.record/1", SCHEMA)

#: The code given to a v1 reason, which was a sentence only.
UNCODED = "unspecified"

JSON = dict[str, Any]
T = TypeVar("T", bound="_Part")
_PLAIN = frozenset({str, int, float, bool})


class SchemaError(ValueError):
    """A record's JSON has a shape no schema version gives it."""


def _dict(value: Any, what: str) -> JSON:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SchemaError(f"{what} is not an object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise SchemaError(f"{what} is not a list")
    return value


class _Part:
    """Plain fields to and from JSON: ``None`` and empty values are left out,
    unknown keys are not read (``check`` reports them)."""

    def to_dict(self) -> JSON:
        out: JSON = {}
        for name in fields(self):
            value = getattr(self, name)
            if type(value) not in _PLAIN:  # text and numbers (most fields) are kept as they are
                if value is None or (isinstance(value, Mapping | tuple) and not value):
                    continue
                if isinstance(value, Mapping):
                    value = dict(value)
                elif isinstance(value, tuple):
                    value = list(value)
            out[name] = value
        return out

    @classmethod
    def from_dict(cls: type[T], data: Any, what: str = "") -> T:
        data = _dict(data, what or cls.__name__.lower())
        return cls(**_known(cls, data))


def _known(cls: type, data: Mapping[str, Any]) -> JSON:
    names = _field_names(cls)
    return {k: v for k, v in data.items() if k in names}


@functools.cache
def _field_names(cls: type) -> frozenset[str]:
    # Asked for every part of every record read: ``fields`` is slow to ask again.
    return frozenset(fields(cls))


@value_class(frozen=True)
class Output(_Part):
    """The generated file: its BLAKE3 is its identity."""

    blake3: str
    path: str | None = None
    size: int | None = None
    media_type: str | None = None
    width: int | None = None
    height: int | None = None
    sha256: str | None = None
    #: the file's mtime at capture (UTC ISO 8601)
    mtime: str | None = None
    #: MD5 of the decoded pixels, kept while an A1111 img2img waits for its source
    pixels_md5: str | None = None
    #: frames of an animation or video
    frames: int | None = None


@value_class(frozen=True)
class Tool(_Part):
    name: str = "unknown"
    version: str | None = None
    commit: str | None = None


@value_class(frozen=True)
class Params:
    """Parameters by canonical name (``repro.record.vocabulary.PARAMS``), as the
    engine used them; ``samplers`` lists every sampling stage in execution
    order; anything else a tool recorded is kept under its own name."""

    values: Mapping[str, Any] = field(default_factory=dict)
    samplers: tuple[Mapping[str, Any], ...] = ()

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def to_dict(self) -> JSON:
        out = dict(self.values)
        if self.samplers:
            out["samplers"] = [dict(s) for s in self.samplers]
        return out

    @classmethod
    def from_dict(cls, data: Any, what: str = "params") -> Params:
        data = dict(_dict(data, what))
        stages = _list(data.pop("samplers", None), f"{what}.samplers")
        return cls(values=data, samplers=tuple(_dict(s, f"{what}.samplers[]") for s in stages))


@value_class(frozen=True)
class ModelEntry(_Part):
    """A model file a generation used.

    ``recorded`` holds the hashes the file named, keyed by scheme and kept as
    written (a 10-hex A1111 ``Model hash`` stays 10 hex); ``hashes`` those repro
    computed from the bytes it found. ``blake3`` and ``path`` are absent when
    no file was found.
    """

    role: str
    name: str | None = None
    path: str | None = None
    blake3: str | None = None
    size: int | None = None
    strength: float | None = None
    strength_clip: float | None = None
    #: ComfyUI model folder (``checkpoints``, ``loras``...) and loader node id
    folder: str | None = None
    node: str | None = None
    recorded: Mapping[str, str] = field(default_factory=dict)
    hashes: Mapping[str, str] = field(default_factory=dict)
    #: how the file was found when not by its name: ``hash`` or ``filename``
    found_by: str | None = None
    #: the base checkpoint a LoRA's own metadata names
    base_model: Mapping[str, Any] | None = None

    @property
    def label(self) -> str:
        """How reasons name it: role and name (or its first hash)."""
        first = next(iter({**self.recorded, **self.hashes}.values()), "?")
        return f"{self.role} {self.name or first}"

    def any_hashes(self) -> dict[str, str]:
        """Recorded and computed hashes in one map (computed ones win)."""
        return {**self.recorded, **self.hashes}

    @classmethod
    def from_dict(cls, data: Any, what: str = "model") -> ModelEntry:
        data = dict(_dict(data, what))
        if "recorded" not in data and data.get("hashes") and not data.get("blake3"):
            # Schema 1 kept recorded hashes under ``hashes`` when no file was found.
            data["recorded"] = data.pop("hashes")
        return cls(**_known(cls, data))


@value_class(frozen=True)
class InputEntry(_Part):
    """A non-model file fed to the generation (init image, mask, ControlNet image)."""

    role: str
    name: str | None = None
    path: str | None = None
    blake3: str | None = None
    node: str | None = None
    recorded: Mapping[str, str] = field(default_factory=dict)
    hashes: Mapping[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        first = next(iter({**self.recorded, **self.hashes}.values()), "?")
        return f"input {self.name or first}"

    @classmethod
    def from_dict(cls, data: Any, what: str = "input") -> InputEntry:
        data = dict(_dict(data, what))
        if "recorded" not in data and data.get("hashes"):
            hashes = dict(data.pop("hashes"))
            # Schema 1: ``sha256`` was computed when a file was found, else recorded.
            if data.get("path"):
                data["hashes"] = hashes
            else:
                data["recorded"] = hashes
        return cls(**_known(cls, data))


@value_class(frozen=True)
class Parent(_Part):
    """A parent record and how this one came from it (``vocabulary.RELATIONS``).
    ``changed`` names what a variation changed: ``{"seed": 101}``."""

    id: str
    relation: str = "input"
    changed: Mapping[str, Any] | None = None

    @classmethod
    def from_dict(cls, data: Any, what: str = "parent") -> Parent:
        if isinstance(data, str):  # schema 1: a bare id
            return cls(id=data)
        data = _dict(data, what)
        return cls(**_known(cls, data))


@value_class(frozen=True)
class Source(_Part):
    """The verbatim metadata: its scheme and the raw payloads as object ids."""

    format: str | None = None
    formats: tuple[str, ...] = ()
    metadata: str = "none"
    blobs: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    provenance: Mapping[str, Any] | None = None

    @classmethod
    def from_dict(cls, data: Any, what: str = "source") -> Source:
        data = dict(_dict(data, what))
        for key in ("formats", "warnings"):
            data[key] = tuple(_list(data.get(key), f"{what}.{key}"))
        return cls(**_known(cls, data))


@value_class(frozen=True)
class Reason:
    """Why a level is below full, or what limits it: a stable ``code``
    (``model.missing``, ``input.changed``...) and a sentence a person can act on."""

    code: str
    text: str

    def __str__(self) -> str:
        return self.text

    def to_dict(self) -> JSON:
        return {"code": self.code, "text": self.text}

    @classmethod
    def from_dict(cls, data: Any) -> Reason:
        if isinstance(data, str):  # schema 1: a sentence only
            return cls(UNCODED, data)
        data = _dict(data, "reason")
        return cls(str(data.get("code", UNCODED)), str(data.get("text", "")))


@value_class(frozen=True)
class Assessment:
    """A reproducibility level and its reasons (stored as ``reproducibility``)."""

    level: str = "none"
    reasons: tuple[Reason, ...] = ()

    @property
    def texts(self) -> list[str]:
        return [r.text for r in self.reasons]

    @property
    def codes(self) -> list[str]:
        return [r.code for r in self.reasons]

    def to_dict(self) -> JSON:
        return {"level": self.level, "reasons": [r.to_dict() for r in self.reasons]}

    def summary(self) -> JSON:
        """The view commands print: reasons as sentences, codes beside them."""
        return {"level": self.level, "reasons": self.texts, "codes": self.codes}

    @classmethod
    def from_dict(cls, data: Any) -> Assessment:
        data = _dict(data, "reproducibility")
        return cls(str(data.get("level", "none")),
                   tuple(Reason.from_dict(r) for r in _list(data.get("reasons"), "reasons")))


@value_class(frozen=True)
class Captured(_Part):
    at: str | None = None
    host: str | None = None
    user: str | None = None
    store_mode: str | None = None


@value_class(frozen=True)
class Record:
    """One output's execution snapshot. ``environment`` is the environment
    capture's document (``repro.environment``), or None when not captured."""

    output: Output
    tool: Tool = field(default_factory=Tool)
    params: Params = field(default_factory=Params)
    models: tuple[ModelEntry, ...] = ()
    inputs: tuple[InputEntry, ...] = ()
    parents: tuple[Parent, ...] = ()
    source: Source = field(default_factory=Source)
    environment: Mapping[str, Any] | None = None
    assessment: Assessment = field(default_factory=Assessment)
    captured: Captured = field(default_factory=Captured)
    message: str = ""
    #: the earlier record of the same output this capture replaces (it stays in the store)
    supersedes: str | None = None
    schema: str = SCHEMA
    #: the BLAKE3 of the stored bytes this record was read from ("" before it is stored)
    id: str = field(default="", compare=False)

    @property
    def level(self) -> str:
        return self.assessment.level

    @property
    def parent_ids(self) -> list[str]:
        return [p.id for p in self.parents]

    def to_dict(self) -> JSON:
        """The record as schema 2 JSON (a schema 1 record read back is shown in
        schema 2's shape, its ``schema`` field unchanged)."""
        return {
            "schema": self.schema,
            "output": self.output.to_dict(),
            "tool": self.tool.to_dict(),
            "params": self.params.to_dict(),
            "models": [m.to_dict() for m in self.models],
            "inputs": [i.to_dict() for i in self.inputs],
            "parents": [p.to_dict() for p in self.parents],
            "source": self.source.to_dict(),
            "environment": None if self.environment is None else dict(self.environment),
            "reproducibility": self.assessment.to_dict(),
            "captured": self.captured.to_dict(),
            "message": self.message,
            **({"supersedes": self.supersedes} if self.supersedes else {}),
        }

    def show(self) -> JSON:
        """The ``show --json`` view: the record plus its id."""
        return {"id": self.id, **self.to_dict()}

    @classmethod
    def from_dict(cls, data: Any, *, id: str = "") -> Record:
        """Any schema version's JSON as a record; ``SchemaError`` when a part has
        a shape no version gives it (a missing or wrong ``schema`` included)."""
        data = _dict(data, "record")
        schema = data.get("schema")
        if schema not in SCHEMAS:
            raise SchemaError(f"schema is {schema!r}, not one of {', '.join(SCHEMAS)}")
        if not isinstance(data.get("output"), dict):
            raise SchemaError("output is missing")
        try:
            return cls(
                schema=schema,
                output=Output.from_dict(data["output"]),
                tool=Tool.from_dict(data.get("tool")),
                params=Params.from_dict(data.get("params")),
                models=tuple(ModelEntry.from_dict(m) for m in _list(data.get("models"), "models")),
                inputs=tuple(InputEntry.from_dict(i) for i in _list(data.get("inputs"), "inputs")),
                parents=tuple(Parent.from_dict(p) for p in _list(data.get("parents"), "parents")),
                source=Source.from_dict(data.get("source")),
                environment=_dict(data["environment"], "environment")
                if data.get("environment") is not None else None,
                assessment=Assessment.from_dict(data.get("reproducibility")),
                captured=Captured.from_dict(data.get("captured")),
                message=data.get("message") or "",
                supersedes=data.get("supersedes"),
                id=id,
            )
        except TypeError as exc:  # a required field missing, e.g. output.blake3
            raise SchemaError(str(exc)) from None
