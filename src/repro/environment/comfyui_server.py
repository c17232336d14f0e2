"""Where a generation drew its noise. (``A1111_TOOLS``, the AUTOMATIC1111 family's
tool names, is ``repro.record.vocabulary``'s, kept importable from here.)

(What a ComfyUI server reports about itself is read in ``repro.comfyui.system_stats``.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from repro.record.vocabulary import A1111_TOOLS

__all__ = ["A1111_TOOLS", "noise_device"]

_RNG_VALUES = {"gpu": "gpu", "cpu": "cpu", "nv": "nv"}


def noise_device(tool: str | None, params: Mapping[str, Any]) -> str | None:
    """Where a generation drew its initial noise: ``"cpu"``, ``"gpu"``, ``"nv"`` or None.

    The same seed gives entirely different noise on the CPU and on a CUDA
    generator (see the H100 fixture ``determinism.txt``), so this decides
    whether a GPU change changes the image. ComfyUI always draws noise with a
    CPU generator. A1111 and its forks record ``RNG`` (canonical ``rng``):
    ``GPU`` (their default, so absent means GPU), ``CPU`` or ``NV`` (a CPU
    reimplementation of NVIDIA's generator: GPU-like noise on any device).
    InvokeAI records ``rand_device`` (``cpu``/``cuda``), read as ``rng``. Unknown -> None.
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
        raw = params.get("rng")
        if raw is None:
            return None
        value = str(raw).strip().lower()
        if value == "cpu":
            return "cpu"
        if value.startswith(("cuda", "gpu", "mps")):
            return "gpu"
        return None
    return None
