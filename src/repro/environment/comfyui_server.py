"""The environment as a running ComfyUI server reports it, and where noise is drawn."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

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


#: Tool names of the AUTOMATIC1111 family, as records spell them.
A1111_TOOLS = ("a1111", "forge", "reforge", "sdnext")
_RNG_VALUES = {"gpu": "gpu", "cpu": "cpu", "nv": "nv"}


def noise_device(tool: str | None, params: Mapping[str, Any]) -> str | None:
    """Where a generation drew its initial noise: ``"cpu"``, ``"gpu"``, ``"nv"`` or None.

    The same seed gives entirely different noise on the CPU and on a CUDA
    generator (see the H100 fixture ``determinism.txt``), so this decides
    whether a GPU change changes the image. ComfyUI always draws noise with a
    CPU generator. A1111 and its forks record ``RNG`` (canonical ``rng``):
    ``GPU`` (their default, so absent means GPU), ``CPU`` or ``NV`` (a CPU
    reimplementation of NVIDIA's generator: GPU-like noise on any device).
    InvokeAI records ``rand_device`` (``cpu``/``cuda``). Unknown -> None.
    """
    name = (tool or "").lower()
    if name == "comfyui":
        return "cpu"
    if name in A1111_TOOLS:
        raw = params.get("rng", params.get("RNG"))
        if raw is None:
            return "gpu"
        return _RNG_VALUES.get(str(raw).strip().lower())
    if name == "invokeai":
        raw = params.get("rand_device")
        if raw is None:
            return None
        value = str(raw).strip().lower()
        if value == "cpu":
            return "cpu"
        if value.startswith(("cuda", "gpu", "mps")):
            return "gpu"
        return None
    return None
