"""The environment a record would be made in now, for ``verify`` to compare with.

It can be known only where a tool's folder is configured (``[comfyui] root``,
``[a1111] root``, ``[invokeai] root``) or a running ComfyUI server is named;
otherwise ``verify`` says nothing about the environment rather than compare
the recorded tool's Python with repro's own.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from repro.api.repository import Repository
from repro.config import Config
from repro.environment.comfyui_server import A1111_TOOLS

#: ``current(tool_name)`` -> the current environment for that tool, or None when unknown.
CurrentEnvironment = Callable[[str | None], dict[str, Any] | None]

_TOOL_KINDS = ("comfyui", "a1111", "invokeai")


#: ``environment_for(tool_name)`` -> the environment a record made by that tool records.
EnvironmentFor = Callable[[str | None], dict[str, Any] | None]


def tool_kind(tool: str | None) -> str | None:
    """The configured tool folder (``comfyui``, ``a1111``, ``invokeai``) a record's tool
    runs from: A1111's forks run from ``[a1111] root``; None for any other tool."""
    name = (tool or "").lower()
    kind = "a1111" if name in A1111_TOOLS else name
    return kind if kind in _TOOL_KINDS else None


def configured_environment(config: Config, *, refresh: bool = False,
                           tool: str | None = None) -> dict[str, Any]:
    """This machine's environment now, with the folder of the tool that made a record
    (``tool``: a record's tool name) when the config names it; with no ``tool``, with
    every tool folder the config names."""
    from repro.environment.current import current_environment

    if tool is None:
        return current_environment(refresh=refresh, **{f"{kind}_root": config.path(kind, "root")
                                                       for kind in _TOOL_KINDS})
    kind = tool_kind(tool)
    roots = {f"{kind}_root": config.path(kind, "root")} if kind is not None else {}
    return current_environment(refresh=refresh, **roots)


def capture_environment(config: Config, *, no_env: bool = False) -> EnvironmentFor | None:
    """The environment a capture records (``add``'s ``environment``), per record: this
    machine's with the folder of the tool that made the output (an A1111 image in a
    studio that also runs ComfyUI gets A1111's Python and commit, not ComfyUI's), or
    None when ``no_env`` or config ``capture.environment`` is off (nothing is recorded)."""
    if no_env or not config.get("capture", "environment"):
        return None

    def environment_for(tool: str | None) -> dict[str, Any] | None:
        return configured_environment(config, tool=tool or "unknown")

    return environment_for


def environment_now(repo: Repository, *, comfyui_url: str | None = None) -> CurrentEnvironment:
    """A function giving the current environment of the tool a record names.

    ComfyUI: the server's ``/system_stats`` laid over the install's scan when
    ``comfyui_url`` is given (raises ``ServerUnreachable`` if it does not
    answer), else the configured ComfyUI folder. A1111 and its forks,
    InvokeAI: their configured folders. Scans are made once (fresh: git
    states and packages are read again) and shared by every record.
    """
    from repro.environment.current import current_environment

    config = repo.config
    roots: dict[str, Path | None] = {kind: config.path(kind, "root") for kind in _TOOL_KINDS}
    cache: dict[str, dict[str, Any] | None] = {}
    refreshed: list[bool] = []

    def scan(**kw: Path | None) -> dict[str, Any]:
        env = current_environment(refresh=not refreshed, **kw)
        refreshed.append(True)
        return env

    def make(kind: str) -> dict[str, Any] | None:
        if kind == "comfyui" and comfyui_url:
            from repro.comfyui.client import ComfyClient, is_loopback
            from repro.comfyui.system_stats import server_environment

            _raw, stats = ComfyClient(comfyui_url, timeout=5.0).system_stats()
            local = scan(comfyui_root=roots["comfyui"]) \
                if roots["comfyui"] is not None or is_loopback(comfyui_url) else None
            return server_environment(stats, local, url=comfyui_url)
        root = roots.get(kind)
        if root is None:
            return None
        return scan(**{f"{kind}_root": root})

    def current(tool: str | None) -> dict[str, Any] | None:
        kind = tool_kind(tool)
        if kind is None:
            return None
        if kind not in cache:
            cache[kind] = make(kind)
        return cache[kind]

    return current


#: Keys that describe the tool's own Python; a record made without the tool's folder
#: holds repro's Python there instead, which says nothing about the tool.
TOOL_PYTHON_KEYS = ("python", "torch", "cuda", "cudnn", "packages", "determinism")


def comparable(recorded: dict[str, Any], current: dict[str, Any]
               ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The parts of two environments that describe the same things."""
    if recorded.get("tool") and current.get("tool"):
        return recorded, current
    strip = set(TOOL_PYTHON_KEYS)
    return ({k: v for k, v in recorded.items() if k not in strip},
            {k: v for k, v in current.items() if k not in strip})
