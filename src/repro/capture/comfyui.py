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

from typing import Any

from repro import jsonsafe
from repro.capture.comfyui_graph import Graph, Node
from repro.capture.comfyui_nodes import (
    MAX_HOPS,
    MAX_NODES,
    SAMPLER_CLASSES,
    SCHEDULER_CLASSES,
    SEED_INPUTS,
    is_link,
    is_output_class,
    is_sampler_class,
    node_id_key,
)
from repro.capture.comfyui_parts import (
    inputs_of,
    model_inputs,
    models_of,
    node_params,
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
from repro.capture.types import Generation, ModelRef
from repro.errors import InputError, LimitExceeded
from repro.record.values import field, value_class

__all__ = ["comfyui_from_objects", "models_by_node", "parse_comfyui", "parse_prompt_graph"]

# --- sampling stages -----------------------------------------------------------------


@value_class
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


def _read_stage(g: Graph, node_id: str) -> _Stage:
    """One sampling node's parameters, following SamplerCustom* helper nodes."""
    node = g.nodes[node_id]
    inputs = node.inputs
    label = f"node {node_id} {node.class_type}"
    stage = _Stage(node_id, {"node": node_id, "class_type": node.class_type})

    def take(field: str, holder: Node | None, key: str, kind: str) -> bool:
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

    def helper(port: str) -> Node | None:
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


def _noise_stage(g: Graph, top: _Stage, stages: list[_Stage]) -> _Stage:
    """The stage whose seed decides the output's noise: ``top`` (the one that made the
    saved latent) unless it adds no noise (a refiner's second half, ``add_noise:
    disable``), then the last stage before it that does."""
    if not top.noise_off:
        return top
    upstream = g.ancestors(top.node_id)
    noisy = [s for s in stages if s.node_id in upstream and not s.noise_off]
    return max(noisy, key=lambda s: g.position[s.node_id]) if noisy else top


def _prompt_text(g: Graph, start: Any, which: str
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


def _clip_skip(g: Graph, encoder_id: str) -> int | None:
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


def _latent_size(g: Graph, start: Any) -> dict[str, int]:
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
    g = Graph(graph)
    gen = Generation(tool="comfyui", format="comfyui", formats=["comfyui"], metadata="execution")

    samplers, outputs = g.samplers_and_outputs()
    stages = {n: _read_stage(g, n) for n in samplers}

    outputs.sort(key=lambda n: ("Save" not in g.nodes[n].class_type, node_id_key(n)))
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
    gen.models = models_of(g, scope)
    covered.update(model_inputs(g, gen.models))
    every_input, usual = node_params(g, scope)
    for name, value in usual.items():
        params.setdefault(name, value)
    for node_id, name in covered:  # a few inputs among hundreds: drop them, keep the rest
        every_input.pop(f"{node_id}.{name}", None)
    params.update(every_input)
    gen.params = params
    gen.inputs = inputs_of(g, scope)

    if workflow is not None:
        if isinstance(workflow, dict):
            parsed = read_workflow(workflow)
            gen.provenance = provenance(parsed)
            attach_hashes(gen.models, parsed.models)
            g.warnings.extend(seed_warnings(parsed, g.nodes))
            g.warnings.extend(inactive_warnings(parsed, g.nodes))
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
    g = Graph(graph)
    ends = [n for n in (outputs if outputs is not None else
                        [n for n in g.order if is_output_class(g.nodes[n].class_type)])
            if n in g.nodes]
    scope = set(ends).union(*(g.ancestors(n) for n in ends)) if ends else set(g.nodes)
    found: dict[str, list[ModelRef]] = {}
    for model in models_of(g, scope):
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
