from __future__ import annotations

import pytest

from repro.environment.comfyui_server import noise_device


@pytest.mark.parametrize(("tool", "params", "expected"), [
    ("comfyui", {"seed": 1}, "cpu"),
    ("a1111", {}, "gpu"),
    ("a1111", {"RNG": "CPU"}, "cpu"),
    ("forge", {"rng": "NV"}, "nv"),
    ("a1111", {"rng": "GPU"}, "gpu"),
    ("a1111", {"rng": "quantum"}, None),
    ("invokeai", {"rand_device": "cpu"}, "cpu"),
    ("invokeai", {"rand_device": "cuda"}, "gpu"),
    ("invokeai", {}, None),
    ("novelai", {}, None),
    (None, {}, None),
])
def test_noise_device(tool: str | None, params: dict[str, str], expected: str | None) -> None:
    assert noise_device(tool, params) == expected
