"""``current_environment()``: the record's ``environment`` field, assembled from
the probes of this package."""

from __future__ import annotations

import copy
import functools
import sys
from pathlib import Path
from typing import Any

from repro.environment.gpu import probe_gpu
from repro.environment.installs import (
    RELEVANT_PACKAGES,
    a1111_install,
    comfyui_install,
    find_python_env,
    invokeai_install,
)
from repro.environment.machine import machine_info
from repro.environment.packages import scan_sites
from repro.environment.stamp import Stamp, install_stamp

__all__ = ["clear_cache", "current_environment"]


@functools.cache
def _machine() -> dict[str, Any]:
    return machine_info()


@functools.cache
def _gpu() -> dict[str, Any]:
    # The one slow probe (two nvidia-smi runs): once per process.
    return probe_gpu()


#: Install scans by (kind, root), each with the stamp of the trees it read.
_installs: dict[tuple[str, str], tuple[Stamp, dict[str, Any]]] = {}


def _install(kind: str, root: str) -> dict[str, Any]:
    """The scan of an install, done again only when its stamp changed (``stamp``): a
    commit, checkout or pull in the tool or a custom node, a node added or removed, a
    package installed in its venv."""
    stamp = install_stamp(root, find_python_env(root))
    known = _installs.get((kind, root))
    if known is not None and known[0] == stamp:
        return known[1]
    scan = {"comfyui": comfyui_install, "a1111": a1111_install, "invokeai": invokeai_install}
    found = scan[kind](root)
    _installs[(kind, root)] = (stamp, found)
    return found


@functools.cache
def _own_packages() -> tuple[dict[str, str], dict[str, Any]]:
    """Packages and torch of the Python running repro (for diffusers scripts)."""
    return scan_sites((e for e in sys.path if e.endswith("site-packages") and Path(e).is_dir()),
                      RELEVANT_PACKAGES.__contains__)


def clear_cache() -> None:
    """Forget cached probes and install scans (a long-running watcher calls this)."""
    for cached in (_machine, _gpu, _own_packages):
        cached.cache_clear()
    _installs.clear()


def current_environment(
    *,
    comfyui_root: str | Path | None = None,
    a1111_root: str | Path | None = None,
    invokeai_root: str | Path | None = None,
    refresh: bool = False,
) -> dict[str, Any]:
    """The record's ``environment`` field for a capture on this machine now.

    Returns ``{"python", "os", "cpu", "host"?, "gpu": [...], "driver"?,
    "driver_cuda"?, "cuda"?, "cudnn"?, "torch"?, "packages", "tool"?,
    "tool_version"?, "tool_commit"?, "tool_branch"?, "tool_dirty"?,
    "tool_remote"?, "custom_nodes"?, "extensions"?, "model_roots"?}``.
    ``python``, ``torch`` and ``packages`` are those of the tool's venv when
    a tool root is given and its venv is found; absent (``packages`` empty)
    when a tool root is given but its venv is not found; else those of the
    Python running repro. ``cuda`` is the CUDA torch was built for; ``driver_cuda`` the
    newest the driver supports. ``gpu`` is ``[]`` on a machine without an
    NVIDIA GPU. Machine and GPU probes are cached per process, install scans
    until their trees change (``repro.environment.stamp``); ``refresh=True``
    re-reads them all (git states included).
    """
    if refresh:
        clear_cache()
    machine = _machine()
    env: dict[str, Any] = {
        "python": dict(machine.get("python", {})),
        "os": dict(machine.get("os", {})),
        "cpu": dict(machine.get("cpu", {})),
    }
    if machine.get("host"):
        env["host"] = machine["host"]
    gpu = _gpu()
    env["gpu"] = [dict(g) for g in gpu.get("gpus", [])]
    if gpu.get("driver"):
        env["driver"] = gpu["driver"]
    if gpu.get("cuda"):
        env["driver_cuda"] = gpu["cuda"]

    installs: list[dict[str, Any]] = []
    for kind, root in (("comfyui", comfyui_root), ("a1111", a1111_root),
                       ("invokeai", invokeai_root)):
        if root is not None:
            installs.append(_install(kind, str(Path(root).resolve())))

    tool_env = next((i["env"] for i in installs if "env" in i), None)
    packages: dict[str, str]
    torch: dict[str, Any]
    if tool_env is None and installs:
        # The tool runs in a Python repro did not find: its packages, torch and Python
        # are not known, and repro's own would be the wrong thing to record.
        packages, torch = {}, {}
        env.pop("python")
    elif tool_env is None:
        packages, torch = _own_packages()
    else:
        packages = dict(tool_env.get("packages", {}))
        torch = dict(tool_env.get("torch", {}))
        if tool_env.get("python", {}).get("version"):
            # The tool's Python, not the one running repro, ran the generation.
            env["python"] = {"version": tool_env["python"]["version"],
                             "env_path": tool_env["path"]}
    if torch:
        env["torch"] = torch
        if "cuda" in torch:
            env["cuda"] = torch["cuda"]
        if torch.get("cudnn"):
            env["cudnn"] = torch["cudnn"]
    env["packages"] = {k: v for k, v in sorted(packages.items()) if k in RELEVANT_PACKAGES}

    if installs:
        first = installs[0]
        env["tool"] = first["tool"]
        if first.get("version"):
            env["tool_version"] = first["version"]
        git = first.get("git") or {}
        for key in ("commit", "branch", "dirty", "remote"):
            if key in git:
                env[f"tool_{key}"] = git[key]
        roots: list[str] = []
        for install in installs:
            if "custom_nodes" in install:
                env["custom_nodes"] = install["custom_nodes"]
            if "extensions" in install:
                env["extensions"] = install["extensions"]
            roots.extend(r for r in install.get("model_roots", []) if r not in roots)
        env["model_roots"] = roots
    # The cached scans must not be changed through the dict handed out.
    return copy.deepcopy(env)
