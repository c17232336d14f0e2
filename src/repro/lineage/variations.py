"""Variations: records that differ from one record in exactly one parameter.

Every record is reduced to a flat map of *variation keys* (``seed``, ``cfg``,
``prompt``, ``model lora style.safetensors`` for a model's version,
``strength lora style.safetensors`` for its strength...). A LoRA's strength or
a model's version is one key, so changing either reads as one change.

The index keeps, per record, a *family* digest (tool and the role/name of
every model: records that can be one change apart share it), a *core* digest
(every key but the seed: seed-only variations share it) and the map with each
value replaced by a short digest, so a query compares small maps from a
bounded candidate set and never loads every record.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Protocol

import orjson

from repro.lineage.params import flat_params
from repro.objects.hashing import hash_bytes
from repro.record import Record
from repro.record.values import value_class

#: How many same-family records a variations query compares at most.
MAX_CANDIDATES = 5000


class Digests(Protocol):
    """What ``find_variations`` reads from the index (``lineage.index.Index`` is one),
    spelled here so that this module does not import the index, which imports it."""

    def fingerprint(self, record_id: str) -> tuple[str, str, dict[str, str]] | None: ...

    def variation_candidates(self, family: str, core: str, exclude: str, limit: int
                             ) -> tuple[list[tuple[str, dict[str, str]]], bool]: ...


def _model_label(m: dict[str, Any]) -> str:
    name = m.get("name") or m.get("path") or (m.get("hashes") or {}).get("sha256") or "?"
    # Folder prefixes ("sdxl/x.safetensors") stay: they are part of what the tool loads.
    return f"{m.get('role') or 'other'} {name}"


def variation_keys(data: dict[str, Any]) -> dict[str, Any]:
    """The flat ``{key: value}`` map of what decides a record's output."""
    keys = flat_params(data.get("params") or {}, unmirrored=True)
    seen: dict[str, int] = {}
    for m in data.get("models") or []:
        label = _model_label(m)
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            label = f"{label} #{seen[label]}"
        keys[f"model {label}"] = m.get("blake3") or m.get("hashes") or m.get("name")
        if m.get("strength") is not None or m.get("strength_clip") is not None:
            keys[f"strength {label}"] = [m.get("strength"), m.get("strength_clip")]
    for i in data.get("inputs") or []:
        label = f"input {i.get('role') or 'image'} {i.get('name') or '?'}"
        keys[label] = i.get("blake3") or i.get("hashes") or i.get("name")
    return keys


def _digest(value: Any) -> str:
    return _digest_of(orjson.dumps(value, option=orjson.OPT_SORT_KEYS
                                   | orjson.OPT_NON_STR_KEYS))


@functools.lru_cache(maxsize=4096)
def _digest_of(raw: bytes) -> str:
    # The same values (a sampler, a size, a model's version) recur record after record:
    # an index write of a batch hashes each once.
    return hash_bytes(raw)[:16]


def family_key(data: dict[str, Any]) -> str:
    """Tool plus the role and name of every model (strengths and versions left out)."""
    tool = (data.get("tool") or {}).get("name")
    labels = sorted(_model_label(m) for m in data.get("models") or [])
    return _digest([tool, labels])


def fingerprint(data: dict[str, Any]) -> tuple[str, str, dict[str, str]]:
    """``(family, core, {key: digest})`` as the index stores them."""
    keys = variation_keys(data)
    digests = {k: _digest(v) for k, v in keys.items()}
    core = _digest({k: v for k, v in digests.items() if k != "seed"})
    return family_key(data), core, digests


def differing_keys(a: dict[str, str], b: dict[str, str]) -> list[str]:
    """Keys whose digests differ between two maps (present in one only counts)."""
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))


def group_title(key: str) -> str:
    """A variation key as a person reads it."""
    if key.startswith("model "):
        return f"{key[6:]} (another version)"
    if key.startswith("strength "):
        return f"{key[9:]} strength"
    return key


@value_class(frozen=True)
class VariationGroup:
    """Records that differ from the target only in ``parameter``; each member is
    ``{"id", "path", "value", "tool", "level"}``."""

    parameter: str
    title: str
    value: Any
    records: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {"parameter": self.parameter, "title": self.title, "value": self.value,
                "records": list(self.records)}


@value_class(frozen=True)
class Variations:
    target: str
    groups: tuple[VariationGroup, ...]
    #: how many candidates were compared, and whether more were left out
    compared: int
    truncated: bool

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "groups": [g.to_dict() for g in self.groups],
                "compared": self.compared, "truncated": self.truncated}


def find_variations(index: Digests, record: Record, load: Callable[[str], Record], *,
                    limit: int = MAX_CANDIDATES) -> Variations:
    """Records that differ from ``record`` in exactly one variation key, grouped by it.

    Only same-family records are compared (at most ``limit``, seed-only
    variations first), from the digests in the index; only the matches are
    loaded, to show their values.
    """
    stored = index.fingerprint(record.id)
    family, core, mine = stored if stored is not None else fingerprint(record.to_dict())
    candidates, truncated = index.variation_candidates(family, core, record.id, limit)
    by_key: dict[str, list[str]] = {}
    for rid, theirs in candidates:
        diff = differing_keys(mine, theirs)
        if len(diff) == 1:
            by_key.setdefault(diff[0], []).append(rid)
    values = variation_keys(record.to_dict())
    groups = []
    for key in sorted(by_key, key=lambda k: (k != "seed", k)):
        members = []
        for rid in by_key[key]:
            other = load(rid)
            members.append({"id": rid, "path": other.output.path,
                            "value": variation_keys(other.to_dict()).get(key),
                            "tool": other.tool.name, "level": other.level})
        members.sort(key=lambda m: (str(m["value"]), m["id"]))
        groups.append(VariationGroup(key, group_title(key), values.get(key), tuple(members)))
    return Variations(record.id, tuple(groups), len(candidates), truncated)
