"""A record's parameters as one flat map: ``diff`` compares two of them, and
``variations`` keys records by theirs (so every ``add`` computes one: this module
is kept light, apart from ``diff``'s prompt and graph comparisons)."""

from __future__ import annotations

from typing import Any

from repro.record.vocabulary import USUAL_INPUTS

#: Parameters flattened into others' keys (``extra.K``, ``samplers[N].K``).
IGNORED_PARAMS = {"samplers", "extra"}


def flat_params(params: dict[str, Any], *, skip: tuple[str, ...] = (),
                unmirrored: bool = False) -> dict[str, Any]:
    """Parameters as one flat map: ``extra.K`` for extras and ``samplers[N].K`` for
    each stage of a multi-stage run (a single stage mirrors the top level: listing
    it again would count every change twice). ``skip``: top-level keys left out;
    ``unmirrored``: stage values equal to the top-level ones are left out too."""
    flat = {k: v for k, v in params.items() if k not in IGNORED_PARAMS and k not in skip
            and not (unmirrored and _mirrors_usual(params, k, v))}
    for k, v in (params.get("extra") or {}).items():
        flat[f"extra.{k}"] = v
    stages = params.get("samplers") or []
    for n, stage in enumerate(stages if len(stages) > 1 else []):
        if not isinstance(stage, dict):
            continue
        for k, v in stage.items():
            if k in ("node", "class_type") or (unmirrored and params.get(k) == v):
                continue
            flat[f"samplers[{n}].{k}"] = v
    return flat


_USUAL_OF = {name: usual for usual, names in USUAL_INPUTS.items() for name in names}


def _mirrors_usual(params: dict[str, Any], key: str, value: Any) -> bool:
    """Whether ``NODE.INPUT`` holds what a usual name already says (``3.seed`` next to
    ``seed``): counting both would make one change two differences."""
    node, dot, name = key.rpartition(".")
    usual = _USUAL_OF.get(name) if dot and node and not node.startswith(("extra", "samplers")) \
        else None
    return usual is not None and params.get(usual) == value
