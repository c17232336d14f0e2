"""ComfyUI reader: the executed prompt graph (plus the editor workflow) to a Generation.

ComfyUI saves two JSON texts with every output (FORMATS.md §1.1): ``prompt``,
the API-format graph the backend validated and executed, and ``workflow``,
the editor's litegraph state. The prompt is the record of what ran; the
workflow only adds provenance and warnings (``comfyui_workflow``).

A prompt graph maps node ids to ``{"inputs", "class_type", "_meta"}``; an
input is a literal or a link ``["<source id>", <slot>]``. Parameters are read
by following links back to literals through pass-through and primitive
nodes. Every walk is bounded and cycle-safe: the graph comes from an
untrusted file.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from repro import jsonsafe
from repro.capture.comfyui_nodes import (
    LOADERS,
    MAX_HOPS,
    MAX_NODES,
    SAMPLER_CLASSES,
    SCHEDULER_CLASSES,
    SEED_INPUTS,
    find_embeddings,
    guess_role,
    has_config_extension,
    has_image_extension,
    has_model_extension,
    is_int,
    is_link,
    is_number,
    is_output_class,
    is_sampler_class,
    is_str,
    node_id_key,
)
from repro.capture.comfyui_text import encoder_texts
from repro.capture.comfyui_workflow import (
    attach_hashes,
    inactive_warnings,
    provenance,
    read_workflow,
    seed_warnings,
    workflow_only_generation,
)
from repro.capture.types import Generation, InputRef, ModelRef
from repro.errors import InputError, LimitExceeded
from repro.record.vocabulary import USUAL_INPUTS

__all__ = ["comfyui_from_objects", "models_by_node", "parse_comfyui", "parse_prompt_graph"]

_MISSING = object()

#: Kinds of literal a parameter must be: (check, words for a message).
_KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "int": (is_int, "an integer"),
    "number": (is_number, "a number"),
    "str": (is_str, "text"),
}

#: Input names primitive and value nodes use for the one value they hold.
_VALUE_NAMES = ("value", "Value", "int", "float", "number", "string", "text", "STRING")

_SHA256_HEX = frozenset("0123456789abcdef")


@dataclass(slots=True)
class _Node:
    class_type: str
    inputs: dict[str, Any]
    raw: dict[str, Any]
    node_id: str = ""
    #: ``(input name, source node id)`` of every link input, found once.
    links: list[tuple[str, str]] = field(default_factory=list)


class _Graph:
    """A validated prompt graph with its execution order and link resolution."""

    def __init__(self, graph: dict[str, Any]) -> None:
        if len(graph) > MAX_NODES:
            raise LimitExceeded(f"ComfyUI prompt: {len(graph)} nodes is over the "
                                f"{MAX_NODES} node limit")
        self.nodes: dict[str, _Node] = {}
        self._ancestors: dict[str, set[str]] = {}
        self.reasons: list[str] = []
        self.warnings: list[str] = []
        skipped = []
        for key, raw in graph.items():
            node_id = str(key)
            if not isinstance(raw, dict) or not isinstance(raw.get("class_type"), str):
                skipped.append(node_id)
                continue
            inputs = raw.get("inputs")
            inputs = inputs if isinstance(inputs, dict) else {}
            links = [(name, str(value[0])) for name, value in inputs.items()
                     if type(value) is list and is_link(value)]
            self.nodes[node_id] = _Node(raw["class_type"], inputs, raw, node_id, links)
        if not self.nodes:
            raise InputError("ComfyUI prompt: no node has a class_type; "
                             "this is not an API-format graph")
        if skipped:
            shown = ", ".join(sorted(skipped, key=node_id_key)[:5])
            self.warnings.append(f"ComfyUI prompt: skipped {len(skipped)} entries that are "
                                 f"not nodes (ids {shown})")
        self._order()

    def _order(self) -> None:
        # Kahn's algorithm with a heap on numeric ids: the execution order the
        # record uses, ties broken by node id. Nodes left over are on or behind a cycle.
        users: dict[str, list[str]] = {node_id: [] for node_id in self.nodes}
        waiting: dict[str, int] = {}
        dangling: list[str] = []
        for node_id, node in self.nodes.items():
            sources = set()
            for name, source in node.links:
                if source in self.nodes:
                    sources.add(source)
                else:
                    dangling.append(f"node {node_id} {node.class_type} input {name!r} links "
                                    f"to node {source}")
            waiting[node_id] = len(sources)
            for source in sources:
                users[source].append(node_id)
        if dangling:
            more = f" and {len(dangling) - 3} more" if len(dangling) > 3 else ""
            self.reasons.append(f"the prompt graph is incomplete: {'; '.join(dangling[:3])}"
                                f"{more}, which the prompt does not contain")
        keys = {n: (int(n), ()) if n.isascii() and n.isdigit() else (-1, node_id_key(n))
                for n in self.nodes}  # plain numeric ids (nearly all) sort as numbers, cheaply
        heap = [(keys[n], n) for n, count in waiting.items() if count == 0]
        heapq.heapify(heap)
        order: list[str] = []
        while heap:
            _key, node_id = heapq.heappop(heap)
            order.append(node_id)
            for user in users[node_id]:
                waiting[user] -= 1
                if waiting[user] == 0:
                    heapq.heappush(heap, (keys[user], user))
        self.order = order
        self.position = {node_id: i for i, node_id in enumerate(order)}
        self.cyclic = set(self.nodes) - set(order)
        if self.cyclic:
            ids = sorted(self.cyclic, key=node_id_key)
            shown = ", ".join(ids[:10]) + (", ..." if len(ids) > 10 else "")
            message = (f"nodes {shown} form or depend on a link cycle, which ComfyUI cannot "
                       "execute; they were skipped")
            self.warnings.append(message)
            self.reasons.append(f"the prompt graph is not executable as recorded: {message}")

    def all_ids(self) -> list[str]:
        """Every node id: execution order, then the skipped cyclic part by id."""
        return self.order + sorted(self.cyclic, key=node_id_key)

    def source(self, value: Any) -> tuple[str, _Node] | None:
        """The node a link input comes from (None for literals, dangling or cyclic links)."""
        if not is_link(value):
            return None
        node_id = str(value[0])
        node = self.nodes.get(node_id)
        if node is None or node_id in self.cyclic:
            return None
        return node_id, node

    def resolve(self, value: Any, name: str, kind: str) -> tuple[Any, str | None]:
        """Follow links from an input value to the literal it stands for.

        Returns ``(value, None)`` or ``(None, problem)`` where ``problem``
        completes a sentence about the input ("is computed at run time by ...").
        A linked node yields its input named like ``name`` or a value-node
        name, else its only literal input, else (when it has only one link)
        what that link carries: this covers primitive, seed, int and string
        nodes and pass-through nodes without guessing at computed values.
        """
        check, words = _KINDS[kind]
        seen: set[str] = set()
        for _hop in range(MAX_HOPS):
            if not is_link(value):
                if value is None:
                    return None, "is null in the prompt (NaN or a missing value)"
                if check(value):
                    return value, None
                return None, f"has the value {_short(value)}, which is not {words}"
            node_id = str(value[0])
            node = self.nodes.get(node_id)
            if node is None:
                return None, f"links to node {node_id}, which is not in the prompt"
            if node_id in self.cyclic or node_id in seen:
                return None, f"comes through a link cycle at node {node_id}"
            seen.add(node_id)
            found = _held_value(node, name, check)
            if found is _MISSING:
                return None, (f"is computed at run time by node {node_id} ({node.class_type}); "
                              "the prompt does not record the value")
            value = found
        return None, f"follows more than {MAX_HOPS} links"

    def ancestors(self, node_id: str) -> set[str]:
        """Every node the given node depends on (not itself); do not modify the set."""
        cached = self._ancestors.get(node_id)
        if cached is not None:
            return cached
        found: set[str] = set()
        stack = [node_id]
        nodes, cyclic = self.nodes, self.cyclic
        while stack:
            for _name, source in nodes[stack.pop()].links:
                if source not in found and source in nodes and source not in cyclic:
                    found.add(source)
                    stack.append(source)
        found.discard(node_id)
        self._ancestors[node_id] = found
        return found


def _held_value(node: _Node, name: str, check: Callable[[Any], bool]) -> Any:
    for key in (name, *_VALUE_NAMES):
        if key in node.inputs:
            return node.inputs[key]
    literals = [v for v in node.inputs.values() if not is_link(v)]
    links = [v for v in node.inputs.values() if is_link(v)]
    if len(literals) == 1 and not links and check(literals[0]):
        return literals[0]
    if not literals and len(links) == 1:
        return links[0]
    return _MISSING


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --- sampling stages -----------------------------------------------------------------


@dataclass
class _Stage:
    node_id: str
    values: dict[str, Any]
    positive: Any = None
    negative: Any = None
    latent: Any = None
    #: ``(node id, input)`` of every input this stage read (its own and its helpers')
    read: set[tuple[str, str]] = field(default_factory=set)
    #: the stage adds no noise (``add_noise`` off, ``DisableNoise``): its seed draws nothing
    noise_off: bool = False


def _read_stage(g: _Graph, node_id: str) -> _Stage:
    """One sampling node's parameters, following SamplerCustom* helper nodes."""
    node = g.nodes[node_id]
    inputs = node.inputs
    label = f"node {node_id} {node.class_type}"
    stage = _Stage(node_id, {"node": node_id, "class_type": node.class_type})

    def take(field: str, holder: _Node | None, key: str, kind: str) -> bool:
        """Read one field; False when it is there but unreadable (reported)."""
        if holder is None or key not in holder.inputs:
            return True
        stage.read.add((holder.node_id, key))
        raw = holder.inputs[key]
        value, problem = g.resolve(raw, key, kind)
        if problem is None:
            stage.values[field] = value
            return True
        if is_link(raw) or field == "seed":
            g.reasons.append(f"{label}: {field} {problem}")
        else:
            g.warnings.append(f"{label}: {field} {problem}")
        return False

    def helper(port: str) -> _Node | None:
        linked = g.source(inputs.get(port))
        return linked[1] if linked is not None else None

    seed_key = next((k for k in inputs if k.lower() in SEED_INPUTS), None)
    noise = helper("noise")
    noise_disabled = noise is not None and noise.class_type == "DisableNoise"
    stage.noise_off = noise_disabled or inputs.get("add_noise") in ("disable", False)
    seed_readable = True
    if seed_key is not None:
        seed_readable = take("seed", node, seed_key, "int")
    elif noise is not None and not noise_disabled:
        noise_key = next((k for k in noise.inputs if k.lower() in SEED_INPUTS), None)
        seed_readable = take("seed", noise, noise_key or "noise_seed", "int")
    seed = stage.values.get("seed")
    if seed == -1:
        g.reasons.append(f"{label}: seed is -1 (random at run time) and the seed actually used "
                         "is not recorded; fix the seed in the workflow to make this reproducible")
    elif seed is None and seed_readable and not noise_disabled:
        g.reasons.append(f"{label}: no seed is recorded, so the noise it drew cannot be "
                         "reproduced from the metadata")

    sigmas, sampler, guider = helper("sigmas"), helper("sampler"), helper("guider")
    take("steps", node if "steps" in inputs else sigmas, "steps", "int")
    take("cfg", node if "cfg" in inputs else guider, "cfg", "number")
    take("sampler", node if "sampler_name" in inputs else sampler, "sampler_name", "str")
    if sampler is not None and "sampler" not in stage.values and (
            sampler.class_type in SAMPLER_CLASSES):
        stage.values["sampler"] = SAMPLER_CLASSES[sampler.class_type]
    take("scheduler", node if "scheduler" in inputs else sigmas, "scheduler", "str")
    if sigmas is not None and "scheduler" not in stage.values and (
            sigmas.class_type in SCHEDULER_CLASSES):
        stage.values["scheduler"] = SCHEDULER_CLASSES[sigmas.class_type]
    take("denoise", node if "denoise" in inputs else sigmas, "denoise", "number")
    take("start", node, "start_at_step", "int")
    take("end", node, "end_at_step", "int")

    conditioning = guider.inputs if guider is not None and "positive" not in inputs else inputs
    stage.positive = next((conditioning[k] for k in ("positive", "conditioning", "cond1")
                           if k in conditioning), None)
    stage.negative = conditioning.get("negative")
    stage.latent = inputs.get("latent_image")
    return stage


def _noise_stage(g: _Graph, top: _Stage, stages: list[_Stage]) -> _Stage:
    """The stage whose seed decides the output's noise: ``top`` (the one that made the
    saved latent) unless it adds no noise (a refiner's second half, ``add_noise:
    disable``), then the last stage before it that does."""
    if not top.noise_off:
        return top
    upstream = g.ancestors(top.node_id)
    noisy = [s for s in stages if s.node_id in upstream and not s.noise_off]
    return max(noisy, key=lambda s: g.position[s.node_id]) if noisy else top


def _prompt_text(g: _Graph, start: Any, which: str
                 ) -> tuple[str | None, str | None, list[str]]:
    """The text, the encoder node id and its text inputs, of one conditioning input."""
    encoders = encoder_texts(g, start)
    if not encoders:
        return None, None, []
    node_id, keys, texts = encoders[0]
    if len(encoders) > 1:
        g.warnings.append(f"the {which} conditioning combines {len(encoders)} text encoders "
                          f"(nodes {', '.join(n for n, _, _ in encoders)}); the {which} prompt "
                          f"shown is node {node_id}'s text, the others are in the embedded "
                          "prompt graph")
    return "\n".join(texts), node_id, keys


def _clip_skip(g: _Graph, encoder_id: str) -> int | None:
    """``CLIPSetLastLayer.stop_at_clip_layer`` on the encoder's CLIP path, as a positive count."""
    value = g.nodes[encoder_id].inputs.get("clip")
    for _hop in range(MAX_HOPS):
        linked = g.source(value)
        if linked is None:
            return None
        node = linked[1]
        if node.class_type == "CLIPSetLastLayer":
            layer, problem = g.resolve(node.inputs.get("stop_at_clip_layer"),
                                       "stop_at_clip_layer", "int")
            return -layer if problem is None and layer < 0 else None
        value = node.inputs.get("clip")
    return None


def _latent_size(g: _Graph, start: Any) -> dict[str, int]:
    """width/height/batch_size of the latent a sampler starts from, when a latent node says.

    Walks back through latent operations; a sampler upstream ends the walk
    (its latent has that stage's size, not this one's).
    """
    stack = [start]
    seen: set[str] = set()
    while stack and len(seen) < MAX_NODES:
        linked = g.source(stack.pop())
        if linked is None or linked[0] in seen:
            continue
        node_id, node = linked
        seen.add(node_id)
        if is_sampler_class(node.class_type, node.inputs):
            continue
        if "Latent" in node.class_type and "width" in node.inputs and "height" in node.inputs:
            size: dict[str, int] = {}
            for key in ("width", "height", "batch_size"):
                if key in node.inputs:
                    value, problem = g.resolve(node.inputs[key], key, "int")
                    if problem is None:
                        size[key] = value
            if "width" in size and "height" in size:
                return size
        follow = [v for k, v in node.inputs.items()
                  if "latent" in k.lower() or "samples" in k.lower()]
        stack.extend(reversed(follow))
    return {}


# --- every input as a parameter ---------------------------------------------------------

#: Usual parameter names and the node inputs that carry them when no sampling stage does.
_USUAL_NAMES = USUAL_INPUTS

_USUAL_OF = {name: usual for usual, names in _USUAL_NAMES.items() for name in names}

#: Integers JSON carries exactly (a record refuses others).
_INT_RANGE = (-(2**63), 2**64 - 1)


def _node_params(g: _Graph, scope: set[str]) -> dict[str, Any]:
    """Every literal input of the nodes in ``scope``, named ``NODE.INPUT``, in execution order.

    Links, lists and objects are not parameters (a link's value is its source
    node's); numbers JSON cannot carry exactly are left out.
    """
    params: dict[str, Any] = {}
    low, high = _INT_RANGE
    for node_id in g.all_ids():
        if node_id not in scope:
            continue
        for name, value in g.nodes[node_id].inputs.items():
            kind = type(value)  # JSON gives exact types: no subclasses to allow for
            if kind is str or kind is bool or (kind is int and low <= value <= high) or (
                    kind is float and math.isfinite(value)):
                params[f"{node_id}.{name}"] = value
    return params


def _model_inputs(g: _Graph, models: list[ModelRef]) -> set[tuple[str, str]]:
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


def _usual_names(node_params: dict[str, Any]) -> dict[str, Any]:
    """The usual names (seed, steps, cfg, sampler, scheduler, denoise, width, height) of
    the node parameters that carry them, when exactly one value is carried."""
    carried: dict[str, dict[str, Any]] = {}
    for key, value in node_params.items():
        usual = _USUAL_OF.get(key[key.rfind(".") + 1:])
        if usual is not None and not isinstance(value, bool):
            carried.setdefault(usual, {})[repr(value)] = value
    return {usual: next(iter(values.values()))
            for usual in _USUAL_NAMES if len(values := carried.get(usual, {})) == 1}


# --- models and inputs ---------------------------------------------------------------


def _models(g: _Graph, scope: set[str]) -> list[ModelRef]:
    models: list[ModelRef] = []
    for node_id in g.all_ids():
        if node_id not in scope:
            continue
        node = g.nodes[node_id]
        if node.class_type in LOADERS:
            models.extend(_loader_models(g, node_id, node))
        else:
            models.extend(_custom_models(node_id, node))
        for value in node.inputs.values():
            if type(value) is str and ":" in value and "embedding:" in value.lower():
                for name, weight in find_embeddings(value):
                    models.append(ModelRef(role="embedding", name=name, strength=weight,
                                           folder="embeddings", node=node_id))
    unique: dict[tuple[str, str | None, str | None], ModelRef] = {}
    for model in models:
        unique.setdefault((model.role, model.name, model.node), model)
    for model in unique.values():
        if model.role == "lora" and model.strength == 0 and not model.strength_clip:
            g.warnings.append(f"node {model.node}: LoRA {model.name} has strength 0 for the "
                              "model and the CLIP, so ComfyUI lists it but does not apply it")
    return list(unique.values())


def _loader_models(g: _Graph, node_id: str, node: _Node) -> list[ModelRef]:
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


def _strength(g: _Graph, node: _Node, key: str) -> float | None:
    if key not in node.inputs:
        return None
    value, problem = g.resolve(node.inputs[key], key, "number")
    return float(value) if problem is None else None


def _custom_models(node_id: str, node: _Node) -> list[ModelRef]:
    """Model files named by a custom node: ``*_name``/``*_path``/``*_file`` inputs."""
    found = []
    for key, value in node.inputs.items():
        kind = type(value)
        if kind is not str and kind is not dict:
            continue  # numbers and links name no file
        if isinstance(value, dict):
            found.extend(_stack_entry(node_id, value))
            continue
        if not isinstance(value, str) or not key.lower().endswith(("_name", "_path", "_file")):
            continue
        if has_model_extension(value):
            role = guess_role(key, node.class_type)
        elif has_config_extension(value) and "config" in key.lower():
            role = "config"
        else:
            continue
        model = ModelRef(role=role, name=value, node=node_id)
        if role == "lora" and sum(1 for k in node.inputs if "lora" in k.lower()
                                  and k.lower().endswith("_name")) == 1:
            model.strength = _first_number(node, ("strength_model", "lora_strength",
                                                  "model_strength", "lora_model_strength",
                                                  "strength"))
            model.strength_clip = _first_number(node, ("strength_clip", "clip_strength",
                                                       "lora_clip_strength"))
        found.append(model)
    return found


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


def _first_number(node: _Node, keys: tuple[str, ...]) -> float | None:
    for key in keys:
        value = node.inputs.get(key)
        if is_number(value):
            return float(value)
    return None


def _inputs(g: _Graph, scope: set[str]) -> list[InputRef]:
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
        digest = _is_changed_sha256(node.raw.get("is_changed"))
        if digest is not None:
            ref.hashes["sha256"] = digest
        found.setdefault((role, name, node_id), ref)
    return list(found.values())


def _is_changed_sha256(value: Any) -> str | None:
    # Pre-2024 backends leaked LoadImage's IS_CHANGED (SHA-256 of the file) into
    # the prompt, as a string or a one-element list.
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, str) and len(value) == 64 and set(value.lower()) <= _SHA256_HEX:
        return value.lower()
    return None


# --- the public API ------------------------------------------------------------------


def parse_prompt_graph(graph: dict[str, Any], workflow: dict[str, Any] | None = None, *,
                       output_node: str | None = None) -> Generation:
    """Read an executed ComfyUI prompt graph (and optionally its editor workflow).

    ``params`` mirror the last sampling stage upstream of the output node
    (``output_node`` when the caller knows which node saved the file, e.g.
    from ``repro.comfyui.history.saved_outputs``; else the first saver by node id), and
    ``params["samplers"]`` lists every stage in execution order. Models,
    inputs, stages and parameters come from what the output depends on: the
    ancestors of ``output_node``, or of every output node when it is not
    known (ComfyUI runs nothing else; a loader nothing consumes is not part
    of any output). Every literal input of those nodes is a parameter named
    ``NODE.INPUT``, unless a sampling stage or a model entry already records
    it by node; seed, steps, cfg, sampler, scheduler, denoise, width and
    height also get their usual names when no sampling stage gives them and
    exactly one value is carried. Raises
    ``LimitExceeded`` past ``MAX_NODES`` nodes and ``InputError`` for a
    graph with no nodes. Level is ``full`` unless a seed, a model name or
    a sampler setting cannot be read as a literal, or the graph is broken.
    """
    if not isinstance(graph, dict):
        raise InputError("ComfyUI prompt: the graph is not a JSON object")
    g = _Graph(graph)
    gen = Generation(tool="comfyui", format="comfyui", formats=["comfyui"], metadata="execution")

    samplers = [n for n in g.order
                if is_sampler_class(g.nodes[n].class_type, g.nodes[n].inputs)]
    stages = {n: _read_stage(g, n) for n in samplers}

    outputs = sorted((n for n in g.order if is_output_class(g.nodes[n].class_type)),
                     key=lambda n: ("Save" not in g.nodes[n].class_type, node_id_key(n)))
    primary = outputs[0] if outputs else None
    known_output = False
    if output_node is not None:
        if output_node in g.nodes:
            primary, known_output = output_node, True
        else:
            g.warnings.append(f"output node {output_node} is not in the prompt; params follow "
                              f"node {primary}" if primary else
                              f"output node {output_node} is not in the prompt")
    # What the output depends on: ComfyUI executes only the nodes its output nodes
    # need. With the saving node known, its ancestors; else every output's.
    scope = set(g.nodes)
    if known_output and primary is not None:
        scope = g.ancestors(primary) | {primary}
    elif outputs:
        scope = set(outputs).union(*(g.ancestors(n) for n in outputs))
    samplers = [n for n in samplers if n in scope]
    top: _Stage | None = None
    if primary is not None:
        upstream = g.ancestors(primary)
        candidates = [n for n in samplers if n in upstream]
        if candidates:
            top = stages[max(candidates, key=g.position.__getitem__)]
    elif samplers:
        top = stages[samplers[-1]]
        g.warnings.append(f"no output node is recognised; params follow the last sampling "
                          f"stage, node {top.node_id} {g.nodes[top.node_id].class_type}")

    params: dict[str, Any] = {}
    covered: set[tuple[str, str]] = {pair for n in samplers for pair in stages[n].read}
    if top is not None:
        prompt, encoder, keys = _prompt_text(g, top.positive, "positive")
        negative, neg_encoder, neg_keys = _prompt_text(g, top.negative, "negative")
        for text_node, text_keys in ((encoder, keys), (neg_encoder, neg_keys)):
            if text_node is not None:
                covered.update((text_node, k) for k in text_keys)
        if prompt is not None:
            params["prompt"] = prompt
        if negative is not None:
            params["negative_prompt"] = negative
        for key in ("seed", "steps", "cfg", "sampler", "scheduler"):
            if key in top.values:
                params[key] = top.values[key]
        noisy = _noise_stage(g, top, [stages[n] for n in samplers])
        if noisy is not top and "seed" in noisy.values:
            params["seed"] = noisy.values["seed"]
        params.update(_latent_size(g, top.latent))
        if "denoise" in top.values:
            params["denoise"] = top.values["denoise"]
        clip_skip = _clip_skip(g, encoder) if encoder is not None else None
        if clip_skip is not None:
            params["clip_skip"] = clip_skip
    if samplers:
        params["samplers"] = [stages[n].values for n in samplers]
    gen.models = _models(g, scope)
    covered.update(_model_inputs(g, gen.models))
    node_params = _node_params(g, scope)
    for name, value in _usual_names(node_params).items():
        params.setdefault(name, value)
    covered_keys = {f"{node_id}.{name}" for node_id, name in covered}
    params.update((k, v) for k, v in node_params.items() if k not in covered_keys)
    gen.params = params
    gen.inputs = _inputs(g, scope)

    if workflow is not None:
        if isinstance(workflow, dict):
            parsed = read_workflow(workflow)
            gen.provenance = provenance(parsed)
            attach_hashes(gen.models, parsed.models)
            executed = {n: (node.class_type, node.inputs) for n, node in g.nodes.items()}
            g.warnings.extend(seed_warnings(parsed, executed))
            g.warnings.extend(inactive_warnings(parsed, set(g.nodes)))
        else:
            g.warnings.append("ComfyUI workflow: not a JSON object; read the executed prompt only")

    gen.reasons = list(dict.fromkeys(g.reasons))
    gen.warnings = list(dict.fromkeys(g.warnings))
    gen.level = "partial" if gen.reasons else "full"
    return gen


def models_by_node(graph: dict[str, Any], outputs: list[str] | None = None
                   ) -> dict[str, list[ModelRef]]:
    """The model files each node of ``graph`` loads, for the nodes ``outputs`` depend on
    (every output node's when None): what a job that ran those outputs loaded."""
    g = _Graph(graph)
    ends = [n for n in (outputs if outputs is not None else
                        [n for n in g.order if is_output_class(g.nodes[n].class_type)])
            if n in g.nodes]
    scope = set(ends).union(*(g.ancestors(n) for n in ends)) if ends else set(g.nodes)
    found: dict[str, list[ModelRef]] = {}
    for model in _models(g, scope):
        if model.node is not None and model.role != "embedding":
            found.setdefault(model.node, []).append(model)
    return found


def parse_comfyui(prompt: str | bytes | None, workflow: str | bytes | None) -> Generation:
    """Read ComfyUI's ``prompt`` and ``workflow`` texts (from PNG chunks, WebP EXIF...).

    Uses the executed prompt when it is an API graph; otherwise the workflow
    alone (``metadata`` "workflow-only", level ``partial``). Raises
    ``InputError`` when neither text is a usable JSON object and
    ``LimitExceeded`` when a text is over the JSON or node limits.
    """
    if prompt is None and workflow is None:
        raise InputError("ComfyUI metadata: neither a prompt nor a workflow is present")
    graph, prompt_problem = _load_object(prompt, "ComfyUI prompt")
    flow, workflow_problem = _load_object(workflow, "ComfyUI workflow")
    return comfyui_from_objects(graph, flow, prompt_problem=prompt_problem,
                                workflow_problem=workflow_problem)


def comfyui_from_objects(graph: dict[str, Any] | None, flow: dict[str, Any] | None, *,
                         prompt_problem: str | None = None,
                         workflow_problem: str | None = None) -> Generation:
    """``parse_comfyui`` for a prompt and workflow already parsed from JSON.

    ``*_problem`` say why a text given could not be parsed (kept as warnings).
    """
    if graph is not None:
        if _looks_like_graph(graph):
            gen = parse_prompt_graph(graph, flow)
            if workflow_problem is not None:
                gen.warnings.append(f"{workflow_problem}; read the executed prompt only")
            return gen
        prompt_problem = "ComfyUI prompt: the JSON object is not an API-format node graph"
    if flow is not None and isinstance(flow.get("nodes"), list):
        gen = workflow_only_generation(flow)
        if prompt_problem is not None:
            gen.warnings.insert(0, f"{prompt_problem}; read the editor workflow only")
        return gen
    if flow is not None:
        workflow_problem = "ComfyUI workflow: the JSON object has no nodes list"
    raise InputError(prompt_problem or workflow_problem or "ComfyUI metadata: nothing to read")


def _load_object(text: str | bytes | None, what: str) -> tuple[dict[str, Any] | None, str | None]:
    if text is None:
        return None, None
    try:
        value = jsonsafe.loads(text, what=what)
    except LimitExceeded:
        raise
    except InputError as exc:
        return None, str(exc)
    if not isinstance(value, dict):
        return None, f"{what}: the JSON is a {type(value).__name__}, not an object"
    return value, None


def _looks_like_graph(graph: dict[str, Any]) -> bool:
    return any(isinstance(node, dict) and isinstance(node.get("class_type"), str)
               for node in graph.values())
