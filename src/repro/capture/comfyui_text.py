"""The prompt texts of a ComfyUI API graph, found by the graph's shape.

New text-encoder nodes appear every month, so no list of encoder classes can
keep up (FORMATS.md R2.3). The prompt is instead what flows into the
conditioning a sampler takes: walk back from its ``positive``/``negative``
input through any node, and at each node take the literal strings of its
text-like inputs (``text``, ``prompt``, ``clip_l``, ``t5xxl``...). A text
input linked to a string node (primitive, concatenate, replace...) is
followed to the literals it is made of.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from repro.capture.comfyui_nodes import MAX_HOPS, MAX_NODES, is_link, is_sampler_class

#: Text inputs of known encoders, in the order their texts are joined.
KNOWN_TEXT_INPUTS = ("text", "text_g", "text_l", "clip_l", "clip_g", "t5xxl", "llama", "bert",
                     "mt5xl", "prompt", "user_prompt", "populated_text", "tags", "lyrics")
#: Words that make an unknown input a text input...
_TEXT_WORDS = ("text", "prompt", "caption", "string", "clip_l", "clip_g", "t5xxl")
#: ...unless it is a preset or template choice.
_NOT_TEXT_WORDS = ("system", "template", "preset", "style", "insert_", "delimiter")
#: Inputs that carry no conditioning; never followed when looking for it.
_NOT_CONDITIONING = ("model", "clip", "vae", "image", "latent", "samples", "pixels", "mask",
                     "control_net", "clip_vision", "noise", "sigmas", "sampler", "upscale")
#: Names a string node (primitive, concatenate...) keeps its text parts under.
_STRING_PARTS = ("value", "string", "string_a", "string_b", "text", "text_a", "text_b", "prompt")


class Node(Protocol):
    class_type: str
    inputs: dict[str, Any]


class Graph(Protocol):
    """What the walk needs of ``repro.capture.comfyui._Graph``."""

    @property
    def nodes(self) -> Mapping[str, Node]: ...

    def source(self, value: Any) -> tuple[str, Any] | None: ...


def is_text_input(name: str) -> bool:
    """Whether an input of that name holds prompt text."""
    low = name.lower()
    if low in KNOWN_TEXT_INPUTS:
        return True
    return any(w in low for w in _TEXT_WORDS) and not any(w in low for w in _NOT_TEXT_WORDS)


def text_inputs(inputs: Mapping[str, Any]) -> list[str]:
    """The text-like inputs of a node: known names first (in their order), then the rest."""
    known = [k for k in KNOWN_TEXT_INPUTS if k in inputs]
    return known + [k for k in inputs if k not in known and is_text_input(k)]


def strings(g: Graph, value: Any, seen: set[str] | None = None, depth: int = 0) -> list[str]:
    """The literal strings a text input is made of: itself, or the parts of the
    string nodes it links to (in input order)."""
    if isinstance(value, str):
        return [value]
    linked = g.source(value)
    seen = set() if seen is None else seen
    if linked is None or linked[0] in seen or depth > MAX_HOPS:
        return []
    seen.add(linked[0])
    node = linked[1]
    parts = [k for k in node.inputs if k.lower() in _STRING_PARTS or is_text_input(k)]
    if not parts:  # a pass-through node: its only link
        links = [v for v in node.inputs.values() if is_link(v)]
        return strings(g, links[0], seen, depth + 1) if len(links) == 1 else []
    found: list[str] = []
    for key in parts:
        found.extend(strings(g, node.inputs[key], seen, depth + 1))
    return found


def encoder_texts(g: Graph, start: Any) -> list[tuple[str, list[str], list[str]]]:
    """Nodes whose text feeds a conditioning input: ``[(node id, input names, texts)]``.

    Walks back through any node; a node with both ``positive`` and
    ``negative`` inputs passes on the one matching the output slot it was
    reached by; a sampler ends the walk (its conditioning is another stage's).
    """
    found: list[tuple[str, list[str], list[str]]] = []
    stack = [start]
    seen: set[str] = set()
    while stack and len(seen) < MAX_NODES:
        link = stack.pop()
        linked = g.source(link)
        if linked is None or linked[0] in seen:
            continue
        node_id, node = linked
        seen.add(node_id)
        if is_sampler_class(node.class_type, list(node.inputs)):
            continue
        keys = text_inputs(node.inputs)
        texts: list[str] = []
        used: list[str] = []
        for key in keys:
            for text in strings(g, node.inputs[key]):
                used.append(key)
                if text not in texts:
                    texts.append(text)
        if texts:
            found.append((node_id, list(dict.fromkeys(used)), texts))
            continue
        stack.extend(reversed(_conditioning_links(node.inputs, link)))
    return found


def _conditioning_links(inputs: Mapping[str, Any], link: Any) -> list[Any]:
    if "positive" in inputs and "negative" in inputs:
        port = {0: "positive", 1: "negative"}.get(link[1])
        return [inputs[port]] if port else []
    named = [v for k, v in inputs.items()
             if is_link(v) and ("cond" in k.lower() or k in ("positive", "negative"))]
    if named:
        return named
    return [v for k, v in inputs.items()
            if is_link(v) and not any(w == k.lower() or k.lower().startswith(w + "_")
                                      for w in _NOT_CONDITIONING)]
