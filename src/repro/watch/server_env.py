"""Which custom-node packages an output's nodes come from, marked in its environment.

A custom node updated since a record was made matters only to outputs that
ran one of its classes. ``GET /object_info`` names each class's
``python_module`` (``repro.comfyui.object_info``); the classes an output ran
are its saving node and that node's ancestors. Each ``custom_nodes`` entry of
the output's environment gets ``used: true|false``; when the server's answer
does not cover every class, nothing is marked (not known, so every package
counts, as before).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from repro.capture.comfyui_nodes import MAX_NODES, is_link
from repro.comfyui.client import ComfyClient
from repro.comfyui.object_info import node_modules, packages_used
from repro.errors import ReproError


def upstream_classes(graph: Mapping[str, Any], node: str) -> set[str]:
    """Class types of ``node`` and every node it depends on (cycle-safe, bounded)."""
    seen: set[str] = set()
    stack = [node]
    while stack and len(seen) < MAX_NODES:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        spec = graph.get(current)
        inputs = spec.get("inputs") if isinstance(spec, Mapping) else None
        if isinstance(inputs, Mapping):
            stack.extend(str(v[0]) for v in inputs.values() if is_link(v))
    return {str(graph[n]["class_type"]) for n in seen
            if isinstance(graph.get(n), Mapping) and "class_type" in graph[n]}


class UsedPackages:
    """Reads ``/object_info`` once per server life and marks environments with it."""

    def __init__(self, client: ComfyClient) -> None:
        self.client = client
        self.modules: dict[str, str] | None = None
        self.asked = False

    def restart(self) -> None:
        """A new server life may have other custom nodes."""
        self.modules, self.asked = None, False

    def _modules(self, classes: set[str]) -> dict[str, str] | None:
        if self.modules is not None and classes <= self.modules.keys():
            return self.modules
        if not self.asked or self.modules is not None:
            self.asked = True
            try:
                self.modules = node_modules(self.client.object_info())
            except ReproError:
                self.modules = None
        return self.modules

    def mark(self, env: dict[str, Any] | None, graph: Mapping[str, Any],
             node: str) -> dict[str, Any] | None:
        """``env`` with each custom node marked ``used`` by the output ``node`` saved."""
        nodes = env.get("custom_nodes") if env is not None else None
        if env is None or not isinstance(nodes, list) or not nodes:
            return env
        classes = upstream_classes(graph, node)
        modules = self._modules(classes)
        used = packages_used(classes, modules) if modules is not None else None
        if used is None:
            return env
        marked = copy.deepcopy(env)
        for item in marked["custom_nodes"]:
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                name = item["name"]
                item["used"] = name in used or name.removesuffix(".py") in used
        return marked
