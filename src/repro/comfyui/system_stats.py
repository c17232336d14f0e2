"""What a running ComfyUI server says about itself in ``GET /system_stats``.

``environment_from_system_stats`` maps the answer to environment fields;
``server_environment`` lays them over the local scan of the install, for the
record of a job the server ran. Pure: parsed JSON in, small values out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from repro.comfyui.client import normalize_url
from repro.environment.packages import local_version_tag

# "cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync" -> device, GPU name, allocator.
_DEVICE_NAME = re.compile(r"^(?P<device>[a-z]+(?::\d+)?)\s+(?P<name>.*?)(?:\s+:\s+(?P<alloc>\S+))?$")
# ComfyUI's system_stats "os" is Python's os.name.
_OS_NAMES = {"posix": "posix", "nt": "windows"}


def _python_version(text: str) -> str | None:
    m = re.match(r"\s*(\d+\.\d+\.\d+\S*)", text)
    return m.group(1) if m else None


def _device(dev: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    raw = dev.get("name")
    if isinstance(raw, str):
        out["device"] = raw
        m = _DEVICE_NAME.match(raw.strip())
        if m and m.group("name"):
            out["name"] = m.group("name")
            if m.group("alloc"):
                out["allocator"] = m.group("alloc")
        else:
            out["name"] = raw
    for key in ("type", "index", "vram_total", "torch_vram_total"):
        value = dev.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            out[key] = value
    return out


def environment_from_system_stats(stats: Mapping[str, Any]) -> dict[str, Any]:
    """Map ComfyUI's ``GET /system_stats`` answer to an environment dict.

    Returns ``{"tool": {"name": "comfyui", "version"?}, "python"?: {"version",
    "build"}, "torch"?: {"version", "local"?}, "os"?: {"name"}, "gpu": [{"name",
    "type", "vram_total", "device"?, "allocator"?, "index"?}], "argv"?,
    "embedded_python"?, "frontend_version"?}``. ``gpu`` lists every torch
    device the server computes on, including a ``type: "cpu"`` one when it
    runs with ``--cpu``. Values of the wrong type are left out, never guessed.
    """
    system = stats.get("system")
    system = system if isinstance(system, Mapping) else {}
    out: dict[str, Any] = {"tool": {"name": "comfyui"}}
    version = system.get("comfyui_version")
    if isinstance(version, str) and version:
        out["tool"]["version"] = version
    py = system.get("python_version")
    if isinstance(py, str) and py:
        python: dict[str, Any] = {"build": py}
        parsed = _python_version(py)
        if parsed:
            python["version"] = parsed
        out["python"] = python
    torch = system.get("pytorch_version")
    if isinstance(torch, str) and torch:
        out["torch"] = {"version": torch}
        local = local_version_tag(torch)
        if local:
            out["torch"]["local"] = local
    os_name = system.get("os")
    if isinstance(os_name, str) and os_name:
        out["os"] = {"name": _OS_NAMES.get(os_name, os_name)}
    argv = system.get("argv")
    if isinstance(argv, list) and all(isinstance(a, str) for a in argv):
        out["argv"] = list(argv)
    embedded = system.get("embedded_python")
    if isinstance(embedded, bool):
        out["embedded_python"] = embedded
    frontend = system.get("required_frontend_version")
    if isinstance(frontend, str) and frontend:
        out["frontend_version"] = frontend
    devices = stats.get("devices")
    out["gpu"] = [_device(d) for d in devices if isinstance(d, Mapping)] \
        if isinstance(devices, list) else []
    return out


def server_environment(stats: Mapping[str, Any], local: Mapping[str, Any] | None,
                       *, url: str) -> dict[str, Any]:
    """The environment of a job run by a server: its ``/system_stats`` over the local scan.

    ``local`` is ``current_environment(comfyui_root=...)`` when the install's
    folder (git state, custom nodes, venv packages) or this machine is known
    to be the server's, else None. What the server says wins: its Python,
    PyTorch, devices and launch flags are the ones that ran the job. A CUDA or
    cuDNN version read from the venv is kept only when the venv's torch is the
    version the server runs.
    """
    server = environment_from_system_stats(stats)
    env: dict[str, Any] = {k: v for k, v in (local or {}).items()}
    env["tool"] = "comfyui"
    version = server["tool"].get("version")
    if version:
        env["tool_version"] = version
    if "python" in server:
        env["python"] = server["python"]
    if "torch" in server:
        local_torch = env.get("torch") if isinstance(env.get("torch"), dict) else {}
        torch = dict(server["torch"])
        if local_torch and local_torch.get("version") == torch["version"]:
            torch = {**local_torch, **torch}
        else:
            for key in ("cuda", "cudnn"):
                env.pop(key, None)
        env["torch"] = torch
    if "os" in server and "os" not in env:
        env["os"] = server["os"]
    env["gpu"] = server["gpu"]
    for key in ("argv", "embedded_python", "frontend_version"):
        if key in server:
            env[key] = server[key]
    env["server"] = {"url": normalize_url(url)}
    return env


def _option(argv: list[str], name: str, shortest: int) -> str | None:
    """The value of a long option as argparse reads it (``--name V``, ``--name=V``, or a
    unique prefix of at least ``shortest`` characters); the last one wins."""
    value = None
    for i, arg in enumerate(argv):
        if not isinstance(arg, str) or not arg.startswith("--"):
            continue
        flag, eq, given = arg.partition("=")
        if len(flag) < shortest or not name.startswith(flag):
            continue
        if eq:
            value = given
        elif i + 1 < len(argv) and isinstance(argv[i + 1], str):
            value = argv[i + 1]
    return value


def output_directory(argv: list[str]) -> str | None:
    """The output folder a server's ``argv`` sets, as written (perhaps relative to
    the folder it was started in): ``--output-directory``, else
    ``--base-directory``/output; None when it uses its own folder's ``output``."""
    named = _option(argv, "--output-directory", len("--output"))
    if named:
        return named
    base = _option(argv, "--base-directory", len("--base"))
    return f"{base.rstrip('/')}/output" if base else None


__all__ = ["environment_from_system_stats", "output_directory", "server_environment"]
