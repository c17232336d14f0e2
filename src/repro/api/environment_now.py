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


def configured_environment(config: Config, *, refresh: bool = False) -> dict[str, Any]:
    """This machine's environment now, with the tool folders the config names."""
    from repro.environment.current import current_environment

    return current_environment(refresh=refresh, **{f"{kind}_root": config.path(kind, "root")
                                                   for kind in _TOOL_KINDS})


def capture_environment(config: Config, *, no_env: bool = False) -> dict[str, Any] | None:
    """The environment a capture records (``add``'s ``environment``): this machine's,
    as ``configured_environment``, unless ``no_env`` or config ``capture.environment``
    is off (then None: nothing is recorded)."""
    if no_env or not config.get("capture", "environment"):
        return None
    return configured_environment(config)


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
        name = (tool or "").lower()
        kind = "a1111" if name in A1111_TOOLS else name
        if kind not in ("comfyui", "a1111", "invokeai"):
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
