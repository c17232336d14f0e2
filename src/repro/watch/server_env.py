"""What the follower adds to a server's environment: the server's own packages, and
which custom-node packages an output's nodes come from.

``with_server_packages``: when the install's scan did not find the venv the
server runs in, the server's process (same machine) names it; its packages
are recorded when its torch is the one the server reports, else none are.

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


def with_server_packages(env: dict[str, Any] | None,
                         stats: Mapping[str, Any]) -> dict[str, Any] | None:
    """``env`` with the packages of the Python the server runs in, when found."""
    from repro.environment.installs import python_env_info
    from repro.environment.process import find_process, python_env_of_process

    if env is None or (env.get("python") or {}).get("env_path"):
        return env  # no environment recorded, or the install's venv was found
    system = stats.get("system")
    argv = system.get("argv") if isinstance(system, Mapping) else None
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        return env
    process = find_process(argv)
    folder = python_env_of_process(process) if process is not None else None
    if folder is None:
        return env
    info = python_env_info(folder)
    torch = info.get("torch") or {}
    server_torch = (env.get("torch") or {}).get("version")
    if not torch or torch.get("version") != server_torch:
        return env  # not the Python that answered: record nothing rather than the wrong thing
    out = dict(env)
    out["packages"] = info.get("packages", {})
    out["torch"] = {**torch, **(env.get("torch") or {})}
    for key in ("cuda", "cudnn"):
        if torch.get(key):
            out[key] = torch[key]
    out["python"] = {**(env.get("python") or {}), "env_path": str(folder)}
    return out


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
