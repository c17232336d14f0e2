from __future__ import annotations

import pytest

from repro.capture.invokeai import metadata_to_generation
from repro.environment.comfyui_server import noise_device


@pytest.mark.parametrize(("tool", "params", "expected"), [
    ("comfyui", {"seed": 1}, "cpu"),
    ("a1111", {}, "gpu"),
    ("a1111", {"RNG": "CPU"}, "cpu"),
    ("forge", {"rng": "NV"}, "nv"),
    ("a1111", {"rng": "GPU"}, "gpu"),
    ("a1111", {"rng": "quantum"}, None),
    ("invokeai", {"rng": "cpu"}, "cpu"),
    ("invokeai", {"rng": "cuda"}, "gpu"),
    ("invokeai", {}, None),
    ("novelai", {}, None),
    (None, {}, None),
])
def test_noise_device(tool: str | None, params: dict[str, str], expected: str | None) -> None:
    assert noise_device(tool, params) == expected


@pytest.mark.parametrize(("rand_device", "expected"), [("cpu", "cpu"), ("cuda", "gpu")])
def test_noise_device_of_what_the_invokeai_reader_produces(rand_device: str,
                                                           expected: str) -> None:
    gen = metadata_to_generation({"app_version": "5.4.2", "seed": 1, "rand_device": rand_device})
    assert noise_device(gen.tool, gen.params) == expected
