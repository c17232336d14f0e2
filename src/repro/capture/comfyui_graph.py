"""The ComfyUI prompt graph as the readers walk it: nodes, links followed back to
literals through pass-through and primitive nodes, execution order, ancestors.
Every walk is bounded and cycle-safe: the graph comes from an untrusted file."""

from __future__ import annotations

import functools
import heapq
from collections.abc import Callable
from typing import Any

from repro.capture.comfyui_nodes import (
    MAX_HOPS,
    MAX_NODES,
    is_int,
    is_link,
    is_number,
    is_output_class,
    is_sampler_class,
    is_str,
    node_id_key,
)
from repro.errors import InputError, LimitExceeded
from repro.record.values import field, value_class

MISSING = object()

#: The types of a link's source id (JSON gives exact types, so ``bool`` is not ``int``).
_LINK_IDS = (str, int)

#: Kinds of literal a parameter must be: (check, words for a message).
KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "int": (is_int, "an integer"),
    "number": (is_number, "a number"),
    "str": (is_str, "text"),
}

#: Input names primitive and value nodes use for the one value they hold.
VALUE_NAMES = ("value", "Value", "int", "float", "number", "string", "text", "STRING")



@value_class
class Node:
    class_type: str
    inputs: dict[str, Any]
    raw: dict[str, Any]
    node_id: str = ""
    #: ``(input name, source node id)`` of every link input, found once.
    links: list[tuple[str, str]] = field(default_factory=list)


class Graph:
    """A validated prompt graph with its execution order and link resolution."""

    def __init__(self, graph: dict[str, Any]) -> None:
        if len(graph) > MAX_NODES:
            raise LimitExceeded(f"ComfyUI prompt: {len(graph)} nodes is over the "
                                f"{MAX_NODES} node limit")
        self.nodes: dict[str, Node] = {}
        self._ancestors: dict[str, set[str]] = {}
        self.cyclic: set[str] = set()
        self.reasons: list[str] = []
        self.warnings: list[str] = []
        skipped = []
        nodes = self.nodes
        for key, raw in graph.items():
            node_id = key if type(key) is str else str(key)
            class_type = raw.get("class_type") if isinstance(raw, dict) else None
            if not isinstance(class_type, str):
                skipped.append(node_id)
                continue
            inputs = raw.get("inputs")
            if not isinstance(inputs, dict):
                inputs = {}
            # is_link, inlined, in a plain loop: this runs for every input of every node.
            links = []
            for name, value in inputs.items():
                if type(value) is list and len(value) == 2 and type(value[1]) is int and (
                        type(value[0]) in _LINK_IDS):
                    links.append((name, value[0] if type(value[0]) is str else str(value[0])))
            nodes[node_id] = Node(class_type, inputs, raw, node_id, links)
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
        nodes = self.nodes
        users: dict[str, list[str]] = {}
        waiting: dict[str, int] = {}
        dangling: list[str] = []
        for node_id, node in nodes.items():
            links = node.links
            if not links:
                continue
            count = 0  # one per link, so a source linked twice is waited for twice
            for _name, source in links:
                if source in nodes:
                    count += 1
                    found = users.get(source)
                    if found is None:
                        users[source] = [node_id]
                    else:
                        found.append(node_id)
            if count < len(links):
                dangling.extend(f"node {node_id} {node.class_type} input {name!r} links "
                                f"to node {source}" for name, source in links
                                if source not in nodes)
            if count:
                waiting[node_id] = count
        if dangling:
            more = f" and {len(dangling) - 3} more" if len(dangling) > 3 else ""
            self.reasons.append(f"the prompt graph is incomplete: {'; '.join(dangling[:3])}"
                                f"{more}, which the prompt does not contain")
        self.order = _kahn(nodes, users, waiting)
        if len(self.order) < len(nodes):
            self.cyclic = set(nodes) - set(self.order)
            ids = sorted(self.cyclic, key=node_id_key)
            shown = ", ".join(ids[:10]) + (", ..." if len(ids) > 10 else "")
            message = (f"nodes {shown} form or depend on a link cycle, which ComfyUI cannot "
                       "execute; they were skipped")
            self.warnings.append(message)
            self.reasons.append(f"the prompt graph is not executable as recorded: {message}")

    @functools.cached_property
    def position(self) -> dict[str, int]:
        """Each executed node's place in the execution order."""
        return {node_id: i for i, node_id in enumerate(self.order)}

    def samplers_and_outputs(self) -> tuple[list[str], list[str]]:
        """The sampling nodes (``is_sampler_class``) and the output nodes
        (``is_output_class``), each in execution order. Big graphs repeat a few kinds
        of node: each kind (class and input names) is asked once."""
        kinds: dict[tuple[str, ...], tuple[bool, bool]] = {}
        samplers: list[str] = []
        outputs: list[str] = []
        nodes = self.nodes
        for node_id in self.order:
            node = nodes[node_id]
            kind = (node.class_type, *node.inputs)
            found = kinds.get(kind)
            if found is None:
                found = kinds[kind] = (is_sampler_class(node.class_type, node.inputs),
                                       is_output_class(node.class_type))
            if found[0]:
                samplers.append(node_id)
            if found[1]:
                outputs.append(node_id)
        return samplers, outputs

    def all_ids(self) -> list[str]:
        """Every node id: execution order, then the skipped cyclic part by id."""
        return self.order + sorted(self.cyclic, key=node_id_key)

    def source(self, value: Any) -> tuple[str, Node] | None:
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
        check, words = KINDS[kind]
        seen: set[str] = set()
        for _hop in range(MAX_HOPS):
            if not is_link(value):
                if value is None:
                    return None, "is null in the prompt (NaN or a missing value)"
                if check(value):
                    return value, None
                return None, f"has the value {short(value)}, which is not {words}"
            node_id = str(value[0])
            node = self.nodes.get(node_id)
            if node is None:
                return None, f"links to node {node_id}, which is not in the prompt"
            if node_id in self.cyclic or node_id in seen:
                return None, f"comes through a link cycle at node {node_id}"
            seen.add(node_id)
            found = held_value(node, name, check)
            if found is MISSING:
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


def held_value(node: Node, name: str, check: Callable[[Any], bool]) -> Any:
    for key in (name, *VALUE_NAMES):
        if key in node.inputs:
            return node.inputs[key]
    literals = [v for v in node.inputs.values() if not is_link(v)]
    links = [v for v in node.inputs.values() if is_link(v)]
    if len(literals) == 1 and not links and check(literals[0]):
        return literals[0]
    if not literals and len(links) == 1:
        return links[0]
    return MISSING


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _kahn(nodes: dict[str, Node], users: dict[str, list[str]],
          waiting: dict[str, int]) -> list[str]:
    """The nodes in execution order: each after its sources, the lowest id first among
    those ready (ComfyUI's order). ``waiting`` counts the links of each linked node
    (``users`` names a node once per link to it)."""
    key_of = _sort_keys(nodes)
    node_of = {key: node_id for node_id, key in key_of.items()}
    heap = [key_of[node_id] for node_id in nodes if node_id not in waiting]
    heapq.heapify(heap)
    order: list[str] = []
    pop, push = heapq.heappop, heapq.heappush
    while heap:
        node_id = node_of[pop(heap)]
        order.append(node_id)
        for user in users.get(node_id, ()):
            left = waiting[user] - 1
            waiting[user] = left
            if left == 0:
                push(heap, key_of[user])
    return order


def _sort_keys(nodes: dict[str, Node]) -> dict[str, Any]:
    """Each node's place among nodes ready at once: its number, when every id is a
    different plain number (nearly every graph), else ``(node_id_key order, id)``."""
    joined = "".join(nodes)
    if joined.isascii() and joined.isdigit() and "" not in nodes:
        numbers = dict(zip(nodes, map(int, nodes), strict=True))
        if len(set(numbers.values())) == len(numbers):  # not "7" and "07"
            return numbers
    return {n: ((int(n), ()) if n.isascii() and n.isdigit() else (-1, node_id_key(n)), n)
            for n in nodes}
