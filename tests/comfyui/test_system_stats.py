"""``/system_stats`` read into environment fields."""

from __future__ import annotations

import json
from pathlib import Path

from repro.comfyui.system_stats import environment_from_system_stats


def test_system_stats_fixture(comfy_fixtures: Path) -> None:
    stats = json.loads((comfy_fixtures / "system_stats.json").read_text())
    env = environment_from_system_stats(stats)
    assert env["tool"] == {"name": "comfyui", "version": "0.3.64"}
    assert env["python"]["version"] == "3.11.7"
    assert env["torch"] == {"version": "2.14.1+cu130", "local": "cu130"}
    assert env["os"] == {"name": "posix"}
    assert env["embedded_python"] is False
    assert env["argv"] == ["main.py", "--cpu", "--listen", "127.0.0.1", "--port", "8188",
                           "--disable-auto-launch"]
    assert env["gpu"] == [{"device": "cpu", "name": "cpu", "type": "cpu",
                           "vram_total": 25276514304, "torch_vram_total": 25276514304}]


def test_system_stats_cuda_device_name_and_bad_types() -> None:
    stats = {
        "system": {"comfyui_version": 3, "python_version": None, "os": "nt", "argv": "main.py"},
        "devices": [{"name": "cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync", "type": "cuda",
                     "index": 0, "vram_total": 25386352640}, "junk"],
    }
    env = environment_from_system_stats(stats)
    assert env["tool"] == {"name": "comfyui"}
    assert "python" not in env and "argv" not in env
    assert env["os"] == {"name": "windows"}
    assert env["gpu"] == [{"device": "cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync",
                           "name": "NVIDIA GeForce RTX 4090", "allocator": "cudaMallocAsync",
                           "type": "cuda", "index": 0, "vram_total": 25386352640}]
    assert environment_from_system_stats({}) == {"tool": {"name": "comfyui"}, "gpu": []}
