"""What differs between two records: parameters, prompt words, model versions,
inputs, tool and environment.

Prompts are compared as sequences of weighted tokens, so ``(red:1.2)`` ->
``(red:1.3)`` reads as a weight change and ``<lora:x:0.8>`` as a LoRA tag.
"""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r"<[^<>]{1,200}>|\([^()]{1,200}:[0-9.]+\)|[^\s,()]+")
IGNORED_PARAMS = {"samplers", "extra"}


def prompt_tokens(text: str | None) -> list[str]:
    return _TOKEN.findall(text or "")


def diff_words(a: str | None, b: str | None) -> dict[str, list[str]]:
    ta, tb = prompt_tokens(a), prompt_tokens(b)
    counts: dict[str, int] = {}
    for t in ta:
        counts[t] = counts.get(t, 0) + 1
    added = []
    for t in tb:
        if counts.get(t, 0) > 0:
            counts[t] -= 1
        else:
            added.append(t)
    removed = [t for t, n in counts.items() for _ in range(n)]
    return {"added": added, "removed": removed}


def _flat_params(params: dict[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in params.items() if k not in IGNORED_PARAMS
            and k not in ("prompt", "negative_prompt")}
    for k, v in (params.get("extra") or {}).items():
        flat[f"extra.{k}"] = v
    stages = params.get("samplers") or []
    # A single stage mirrors the top-level parameters: listing it again would
    # report every change twice.
    for n, stage in enumerate(stages if len(stages) > 1 else []):
        for k, v in stage.items():
            if k not in ("node", "class_type"):
                flat[f"samplers[{n}].{k}"] = v
    return flat


def diff_dicts(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    changed = {k: [a[k], b[k]] for k in a.keys() & b.keys() if a[k] != b[k]}
    added = {k: b[k] for k in b.keys() - a.keys()}
    removed = {k: a[k] for k in a.keys() - b.keys()}
    return {"changed": dict(sorted(changed.items())), "added": dict(sorted(added.items())),
            "removed": dict(sorted(removed.items()))}


def _model_key(m: dict[str, Any]) -> tuple[str, str]:
    return (m.get("role") or "", m.get("name") or m.get("path") or "")


def diff_models(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> dict[str, Any]:
    by_a = {_model_key(m): m for m in a}
    by_b = {_model_key(m): m for m in b}
    changed, strength = [], []
    for key in sorted(by_a.keys() & by_b.keys()):
        ma, mb = by_a[key], by_b[key]
        if ma.get("blake3") != mb.get("blake3"):
            changed.append({"role": key[0], "name": key[1], "a": ma.get("blake3"),
                            "b": mb.get("blake3")})
        for field in ("strength", "strength_clip"):
            if ma.get(field) != mb.get(field):
                strength.append({"role": key[0], "name": key[1], "field": field,
                                 "a": ma.get(field), "b": mb.get(field)})
    only_a = [by_a[k] for k in sorted(by_a.keys() - by_b.keys())]
    only_b = [by_b[k] for k in sorted(by_b.keys() - by_a.keys())]
    renamed = []
    for ma in list(only_a):
        for mb in list(only_b):
            if ma.get("blake3") and ma.get("blake3") == mb.get("blake3"):
                renamed.append({"role": mb.get("role"), "blake3": ma["blake3"],
                                "a": ma.get("name"), "b": mb.get("name")})
                only_a.remove(ma)
                only_b.remove(mb)
                break

    def brief(m: dict[str, Any]) -> dict[str, Any]:
        return {k: m[k] for k in ("role", "name", "blake3", "strength") if k in m}

    return {"changed": changed, "added": [brief(m) for m in only_b],
            "removed": [brief(m) for m in only_a], "renamed": renamed, "strength": strength}


def diff_inputs(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> dict[str, Any]:
    def key(i: dict[str, Any]) -> tuple[str, str]:
        return (i.get("role") or "", i.get("name") or "")

    by_a, by_b = {key(i): i for i in a}, {key(i): i for i in b}
    changed = [{"role": k[0], "name": k[1], "a": by_a[k].get("blake3"), "b": by_b[k].get("blake3")}
               for k in sorted(by_a.keys() & by_b.keys())
               if by_a[k].get("blake3") != by_b[k].get("blake3")]
    return {"changed": changed,
            "added": [by_b[k] for k in sorted(by_b.keys() - by_a.keys())],
            "removed": [by_a[k] for k in sorted(by_a.keys() - by_b.keys())]}


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d} if prefix else {}
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict):
            out.update(_flatten(v, key))
        else:
            out[key] = v
    return out


def diff_records(a: dict[str, Any], b: dict[str, Any], *, a_id: str, b_id: str
                 ) -> dict[str, Any]:
    """The ``repro diff --json`` document for two record dicts."""
    pa, pb = a.get("params") or {}, b.get("params") or {}
    env_a, env_b = _flatten(a.get("environment") or {}), _flatten(b.get("environment") or {})
    return {
        "a": a_id,
        "b": b_id,
        "params": diff_dicts(_flat_params(pa), _flat_params(pb)),
        "prompt": diff_words(pa.get("prompt"), pb.get("prompt")),
        "negative_prompt": diff_words(pa.get("negative_prompt"), pb.get("negative_prompt")),
        "models": diff_models(a.get("models") or [], b.get("models") or []),
        "inputs": diff_inputs(a.get("inputs") or [], b.get("inputs") or []),
        "tool": diff_dicts(a.get("tool") or {}, b.get("tool") or {}),
        "environment": diff_dicts(env_a, env_b),
    }


def is_empty(diff: dict[str, Any]) -> bool:
    for key in ("params", "tool", "environment", "inputs"):
        if any(diff[key].values()):
            return False
    if diff["prompt"]["added"] or diff["prompt"]["removed"]:
        return False
    if diff["negative_prompt"]["added"] or diff["negative_prompt"]["removed"]:
        return False
    return not any(diff["models"].values())
