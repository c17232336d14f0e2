"""The ComfyUI editor workflow (litegraph UI graph): what it can honestly add.

The executed ``prompt`` is the truth; the ``workflow`` is editor state saved
next to it. From the workflow we take what the prompt lacks (frontend version,
custom-node package ids and versions, ``models`` entries with download URLs
and hashes), what tells the reader something went differently than the editor
shows (seed widgets changed by ``control_after_generate``, muted or bypassed
nodes), and, when a file carries only the workflow, the little that can be
read without knowing each node's inputs.

``widgets_values`` are positional and include UI-only slots, so they are never
mapped to inputs by index, except the seed of a few core classes whose layout
is fixed.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any

from repro.capture.comfyui_graph import Node
from repro.capture.comfyui_nodes import (
    FOLDER_ROLES,
    KNOWN_SAMPLERS,
    LOADERS,
    MAX_NODES,
    has_config_extension,
    has_image_extension,
    has_model_extension,
    is_int,
    node_id_key,
    same_folder,
)
from repro.capture.types import Generation, InputRef, ModelRef
from repro.errors import LimitExceeded
from repro.record.hashes import normalise_hash
from repro.record.values import field, value_class

WORKFLOW_ONLY_REASON = ("only the editor workflow is embedded, not the executed prompt: "
                        "parameters may differ from what ran")

#: Index of the seed in ``widgets_values`` and the prompt input it shows, for classes
#: whose widget layout is fixed (the control_after_generate slot follows the seed).
WIDGET_SEEDS = {
    "KSampler": (0, "seed"),
    "KSamplerAdvanced": (1, "noise_seed"),
    "SamplerCustom": (1, "noise_seed"),
    "RandomNoise": (0, "noise_seed"),
}

_MODES = {2: "muted", 4: "bypassed"}
#: What the editor records of the package a node comes from.
_PACKAGE_KEYS = ("cnr_id", "ver", "aux_id")
#: The properties of a node that has none (shared: never modified).
_NO_PROPERTIES: dict[str, Any] = {}
_MODEL_KEYS = ("name", "url", "hash", "hash_type", "directory")


@value_class
class WorkflowNode:
    """One editor node: its id as the prompt spells it, class, mode and raw parts."""

    id: str
    type: str
    mode: int
    properties: dict[str, Any]
    widgets: list[Any]
    in_subgraph: bool = False


@value_class
class Workflow:
    """The parts of a workflow repro uses."""

    nodes: list[WorkflowNode] = field(default_factory=list)
    frontend_version: str | None = None
    models: list[dict[str, str]] = field(default_factory=list)


def read_workflow(workflow: dict[str, Any]) -> Workflow:
    """Pick nodes, frontend version and ``models`` entries out of a workflow object.

    Accepts both schemas (0.4 with list links, 1 with object links; links are
    not needed here) and walks subgraph definitions. Malformed parts are
    skipped, never fatal. Raises ``LimitExceeded`` past ``MAX_NODES`` nodes.
    """
    result = Workflow()
    extra = workflow.get("extra")
    if isinstance(extra, dict) and isinstance(extra.get("frontendVersion"), str):
        result.frontend_version = extra["frontendVersion"]
    result.models.extend(_model_entries(workflow.get("models"), node=None))

    groups: list[tuple[Any, bool]] = [(workflow.get("nodes"), False)]
    definitions = workflow.get("definitions")
    if isinstance(definitions, dict) and isinstance(definitions.get("subgraphs"), list):
        for subgraph in definitions["subgraphs"]:
            if isinstance(subgraph, dict):
                groups.append((subgraph.get("nodes"), True))
    count = 0
    for nodes, in_subgraph in groups:
        if not isinstance(nodes, list):
            continue
        count += len(nodes)
        if count > MAX_NODES:
            raise LimitExceeded(f"ComfyUI workflow: more than {MAX_NODES} nodes")
        kept = result.nodes
        # Runs for every node of every workflow: plain type tests, in one loop.
        for raw in nodes:
            if type(raw) is not dict:
                continue
            node_id, node_type = raw.get("id"), raw.get("type")
            if type(node_id) is int:  # JSON gives exact types: a bool id is not an int one
                node_id = str(node_id)
            if type(node_id) is not str or type(node_type) is not str:
                continue
            mode = raw.get("mode")
            properties = raw.get("properties")
            widgets = raw.get("widgets_values")
            node = WorkflowNode(node_id, node_type,
                                mode if type(mode) is int else 0,
                                properties if type(properties) is dict else _NO_PROPERTIES,
                                widgets if type(widgets) is list else [], in_subgraph)
            kept.append(node)
            if type(properties) is dict and "models" in properties:
                result.models.extend(_model_entries(properties["models"], node=node.id))
    result.models = _dedupe(result.models)
    return result


def _model_entries(raw: Any, node: str | None) -> list[dict[str, str]]:
    if not isinstance(raw, list):
        return []
    entries = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        entry = {key: item[key] for key in _MODEL_KEYS if isinstance(item.get(key), str)}
        if node is not None:
            entry["node"] = node
        entries.append(entry)
    return entries


def _dedupe(items: list[dict[str, str]]) -> list[dict[str, str]]:
    seen: set[tuple[tuple[str, str], ...]] = set()
    result = []
    for item in items:
        key = tuple(sorted(item.items()))
        if key not in seen:
            seen.add(key)
            result.append(item)
    return result


def provenance(workflow: Workflow) -> dict[str, Any]:
    """``{"frontend_version", "nodes": [{class_type, cnr_id, ver, aux_id}], "models"}``.

    Node entries are deduplicated and only listed when the editor recorded a
    package id or version: they are what a later step ties to custom-node commits.
    """
    result: dict[str, Any] = {}
    if workflow.frontend_version is not None:
        result["frontend_version"] = workflow.frontend_version
    nodes: list[dict[str, str]] = []
    for node in workflow.nodes:
        properties = node.properties
        if "cnr_id" not in properties and "ver" not in properties and (
                "aux_id" not in properties):
            continue  # the usual case of older workflows: one test, no dict built
        found = {key: value for key in _PACKAGE_KEYS
                 if isinstance(value := properties.get(key), str)}
        if found:
            nodes.append({"class_type": node.type, **found})
    if nodes:
        result["nodes"] = _dedupe(nodes)
    if workflow.models:
        result["models"] = [dict(entry) for entry in workflow.models]
    return result


def attach_hashes(models: list[ModelRef], entries: list[dict[str, str]]) -> None:
    """Copy hashes from workflow ``models`` entries onto the ModelRefs they describe.

    An entry matches a ModelRef by file name (the entry names the bare file,
    the loader may name ``subfolder/file``) and, when both are known, folder.
    """
    for entry in entries:
        if "hash" not in entry:
            continue
        scheme = entry.get("hash_type", "sha256").strip().lower() or "sha256"
        value = normalise_hash(entry["hash"])
        if not value:
            continue
        for model in models:
            if model.name is None or not _same_file(model.name, entry["name"]):
                continue
            if not same_folder(model.folder, entry.get("directory")):
                continue
            model.hashes.setdefault(scheme, value)


def _same_file(loader_name: str, entry_name: str) -> bool:
    if loader_name == entry_name:
        return True
    return loader_name.replace("\\", "/").rsplit("/", 1)[-1] == entry_name


def seed_warnings(workflow: Workflow, graph: Mapping[str, Node]) -> list[str]:
    """Warn where a seed widget differs from the seed the prompt executed.

    ``graph`` maps prompt node ids to the executed nodes. The frontend's
    control_after_generate ("randomize", "increment"...) changes the widget
    after queueing, so the saved workflow can show the *next* seed.
    """
    warnings = []
    for node in workflow.nodes:
        if node.in_subgraph or node.type not in WIDGET_SEEDS:
            continue
        executed = graph.get(node.id)
        if executed is None or executed.class_type != node.type:
            continue
        index, input_name = WIDGET_SEEDS[node.type]
        if index >= len(node.widgets):
            continue
        shown, used = node.widgets[index], executed.inputs.get(input_name)
        if is_int(shown) and is_int(used) and shown != used:
            warnings.append(
                f"node {node.id} {node.type}: the workflow shows seed {shown} but the executed "
                f"prompt used {used} (control_after_generate); the prompt's seed is the one "
                "that made this image")
    return warnings


def inactive_warnings(workflow: Workflow, executed_ids: Container[str] | None) -> list[str]:
    """Note muted (mode 2) and bypassed (mode 4) nodes: they did not run."""
    warnings = []
    inactive = [n for n in workflow.nodes if n.mode in _MODES and not n.in_subgraph]
    for node in sorted(inactive, key=lambda n: node_id_key(n.id)):
        if executed_ids is not None and node.id in executed_ids:
            continue
        warnings.append(f"node {node.id} {node.type} is {_MODES[node.mode]} in the workflow "
                        "and did not run; it is not part of this image")
    return warnings


def workflow_only_generation(workflow: dict[str, Any]) -> Generation:
    """Read a file that embeds only the editor workflow: level ``partial`` at best.

    Models come from known loaders' widgets (any string widget that ends in a
    model extension, by content, never by position) and from ``models``
    entries; inputs from LoadImage widgets; parameters only the list of
    sampling nodes, since widget values cannot be mapped to inputs safely.
    """
    parsed = read_workflow(workflow)
    models: list[ModelRef] = []
    inputs: list[InputRef] = []
    samplers: list[dict[str, Any]] = []
    active = [n for n in parsed.nodes if n.mode not in _MODES]
    for node in sorted(active, key=lambda n: node_id_key(n.id)):
        if node.type in LOADERS:
            models.extend(_loader_widgets(node))
        elif node.type in ("LoadImage", "LoadImageMask"):
            for value in node.widgets:
                if isinstance(value, str) and has_image_extension(value):
                    role = "mask" if node.type == "LoadImageMask" else "image"
                    inputs.append(InputRef(role=role, name=value, node=node.id))
                    break
        if node.type in KNOWN_SAMPLERS or ("KSampler" in node.type
                                           and node.type != "KSamplerSelect"):
            samplers.append({"node": node.id, "class_type": node.type})
    attach_hashes(models, parsed.models)
    known = {m.name for m in models}
    for entry in parsed.models:
        if entry["name"] in known:
            continue
        known.add(entry["name"])
        folder = entry.get("directory")
        model = ModelRef(role=FOLDER_ROLES.get(folder or "", "other"), name=entry["name"],
                         folder=folder, node=entry.get("node"))
        attach_hashes([model], [entry])
        models.append(model)

    gen = Generation(tool="comfyui", format="comfyui", formats=["comfyui"],
                     metadata="workflow-only", models=models, inputs=inputs,
                     level="partial", reasons=[WORKFLOW_ONLY_REASON])
    if samplers:
        gen.params["samplers"] = samplers
    gen.provenance = provenance(parsed)
    gen.warnings.extend(inactive_warnings(parsed, None))
    return gen


def _loader_widgets(node: WorkflowNode) -> list[ModelRef]:
    slots = list(LOADERS[node.type].items())
    model_slots = [s for s in slots if s[1][0] != "config"]
    config_slots = [s for s in slots if s[1][0] == "config"]
    found = []
    for value in node.widgets:
        if not isinstance(value, str):
            continue
        if has_config_extension(value) and config_slots:
            _name, (role, folder) = config_slots.pop(0)
        elif has_model_extension(value) and model_slots:
            _name, (role, folder) = model_slots.pop(0)
        else:
            continue
        found.append(ModelRef(role=role, name=value, folder=folder, node=node.id))
    return found
