"""What an output's ancestors in a ComfyUI graph used: every input as a
``NODE.INPUT`` parameter (and the usual names), the model files its loaders
name, and the input images it loads."""

from __future__ import annotations

import math
from typing import Any

from repro.capture.comfyui_graph import Graph, Node
from repro.capture.comfyui_nodes import (
    LOADERS,
    find_embeddings,
    guess_role,
    has_config_extension,
    has_image_extension,
    has_model_extension,
    is_number,
)
from repro.capture.types import InputRef, ModelRef
from repro.record.hashes import normalise_hash
from repro.record.vocabulary import USUAL_INPUTS

#: Usual parameter names and the node inputs that carry them when no sampling stage does.
_USUAL_NAMES = USUAL_INPUTS

_USUAL_OF = {name: usual for usual, names in _USUAL_NAMES.items() for name in names}

#: How the input names of a file end (compared lower-cased, the last five characters).
_FILE_ENDINGS = frozenset({"_name", "_path", "_file"})

#: Integers JSON carries exactly (a record refuses others).
_INT_RANGE = (-(2**63), 2**64 - 1)


def node_params(g: Graph, scope: set[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every literal input of the nodes in ``scope``, named ``NODE.INPUT``, in execution
    order; and the usual names (seed, steps, cfg, sampler, scheduler, denoise, width,
    height) of the inputs that carry them, when exactly one value is carried.

    Links, lists and objects are not parameters (a link's value is its source
    node's); numbers JSON cannot carry exactly are left out.
    """
    params: dict[str, Any] = {}
    carried: dict[str, dict[str, Any]] = {}
    low, high = _INT_RANGE
    usual_of = _USUAL_OF
    for node_id in g.all_ids():
        if node_id not in scope:
            continue
        for name, value in g.nodes[node_id].inputs.items():
            kind = type(value)  # JSON gives exact types: no subclasses to allow for
            if kind is str or kind is bool or (kind is int and low <= value <= high) or (
                    kind is float and math.isfinite(value)):
                params[f"{node_id}.{name}"] = value
                # The name after its last dot, as in the parameter's name.
                usual = usual_of.get(name if "." not in name else name.rpartition(".")[2])
                if usual is not None and kind is not bool:
                    carried.setdefault(usual, {})[repr(value)] = value
    usual_names = {usual: next(iter(values.values())) for usual in _USUAL_NAMES
                   if len(values := carried.get(usual, {})) == 1}
    return params, usual_names


def model_inputs(g: Graph, models: list[ModelRef]) -> set[tuple[str, str]]:
    """``(node id, input)`` of the inputs a model entry records: the file name and the
    strengths (already in ``models``, by node)."""
    found: set[tuple[str, str]] = set()
    for model in models:
        node = g.nodes.get(model.node or "")
        if node is None:
            continue
        for key, value in node.inputs.items():
            if value == model.name or key in ("strength_model", "strength_clip", "strength"):
                found.add((node.node_id, key))
    return found


# --- models and inputs ---------------------------------------------------------------


def models_of(g: Graph, scope: set[str]) -> list[ModelRef]:
    models: list[ModelRef] = []
    for node_id in g.all_ids():
        if node_id not in scope:
            continue
        node = g.nodes[node_id]
        loader = node.class_type in LOADERS
        if loader:
            models.extend(_loader_models(g, node_id, node))
        embeddings: list[ModelRef] = []
        for key, value in node.inputs.items():  # every input of every node: plain tests
            kind = type(value)
            if kind is str:
                if ":" in value and "embedding:" in value.lower():
                    embeddings.extend(ModelRef(role="embedding", name=name, strength=weight,
                                               folder="embeddings", node=node_id)
                                      for name, weight in find_embeddings(value))
                if not loader and key[-5:].lower() in _FILE_ENDINGS:
                    models.extend(_custom_model(node_id, node, key, value))
            elif kind is dict and not loader:
                models.extend(_stack_entry(node_id, value))
        models.extend(embeddings)
    unique: dict[tuple[str, str | None, str | None], ModelRef] = {}
    for model in models:
        unique.setdefault((model.role, model.name, model.node), model)
    for model in unique.values():
        if model.role == "lora" and model.strength == 0 and not model.strength_clip:
            g.warnings.append(f"node {model.node}: LoRA {model.name} has strength 0 for the "
                              "model and the CLIP, so ComfyUI lists it but does not apply it")
    return list(unique.values())


def _loader_models(g: Graph, node_id: str, node: Node) -> list[ModelRef]:
    found = []
    for key, (role, folder) in LOADERS[node.class_type].items():
        if key not in node.inputs:
            continue
        name, problem = g.resolve(node.inputs[key], key, "str")
        if problem is not None or not name:
            g.reasons.append(f"node {node_id} {node.class_type}: the {role} file name "
                             f"{problem or 'is empty'}")
            name = None
        model = ModelRef(role=role, name=name, folder=folder, node=node_id)
        if role == "lora":
            model.strength = _strength(g, node, "strength_model")
            model.strength_clip = _strength(g, node, "strength_clip")
        elif role == "hypernetwork":
            model.strength = _strength(g, node, "strength")
        found.append(model)
    return found


def _strength(g: Graph, node: Node, key: str) -> float | None:
    if key not in node.inputs:
        return None
    value, problem = g.resolve(node.inputs[key], key, "number")
    return float(value) if problem is None else None


def _custom_model(node_id: str, node: Node, key: str, value: str) -> list[ModelRef]:
    """The model file a custom node's ``*_name``/``*_path``/``*_file`` input names."""
    if has_model_extension(value):
        role = guess_role(key, node.class_type)
    elif has_config_extension(value) and "config" in key.lower():
        role = "config"
    else:
        return []
    model = ModelRef(role=role, name=value, node=node_id)
    if role == "lora" and sum(1 for k in node.inputs if "lora" in k.lower()
                              and k.lower().endswith("_name")) == 1:
        model.strength = _first_number(node, ("strength_model", "lora_strength",
                                              "model_strength", "lora_model_strength",
                                              "strength"))
        model.strength_clip = _first_number(node, ("strength_clip", "clip_strength",
                                                   "lora_clip_strength"))
    return [model]


def _stack_entry(node_id: str, value: dict[str, Any]) -> list[ModelRef]:
    # LoRA-stack nodes (e.g. rgthree's Power Lora Loader) hold one dict per slot:
    # {"on": true, "lora": "x.safetensors", "strength": 1.0, "strengthTwo": null}.
    name = value.get("lora")
    if not isinstance(name, str) or not has_model_extension(name) or value.get("on") is False:
        return []
    strength = value.get("strength")
    clip = value.get("strengthTwo")
    return [ModelRef(role="lora", name=name, node=node_id,
                     strength=float(strength) if is_number(strength) else None,
                     strength_clip=float(clip) if is_number(clip) else None)]


def _first_number(node: Node, keys: tuple[str, ...]) -> float | None:
    for key in keys:
        value = node.inputs.get(key)
        if is_number(value):
            return float(value)
    return None


def inputs_of(g: Graph, scope: set[str]) -> list[InputRef]:
    found: dict[tuple[str, str, str], InputRef] = {}
    for node_id in g.all_ids():
        if node_id not in scope:
            continue
        node = g.nodes[node_id]
        name = node.inputs.get("image")
        if not isinstance(name, str):
            continue
        core = node.class_type in ("LoadImage", "LoadImageMask")
        if not core and not has_image_extension(name):
            continue
        role = "mask" if "mask" in node.class_type.lower() else "image"
        ref = InputRef(role=role, name=name, node=node_id)
        digest = is_changed_sha256(node.raw.get("is_changed"))
        if digest is not None:
            ref.hashes["sha256"] = digest
        found.setdefault((role, name, node_id), ref)
    return list(found.values())


def is_changed_sha256(value: Any) -> str | None:
    # Pre-2024 backends leaked LoadImage's IS_CHANGED (SHA-256 of the file) into
    # the prompt, as a string or a one-element list.
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, str):
        return normalise_hash(value, lengths=(64,))
    return None
