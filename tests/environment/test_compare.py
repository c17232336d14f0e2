from __future__ import annotations

import copy
from typing import Any

from repro.environment.compare import compare_environments

H100 = {"index": 0, "name": "NVIDIA H100 80GB HBM3", "architecture": "Hopper",
        "compute_capability": "9.0"}
RTX4090 = {"index": 0, "name": "NVIDIA GeForce RTX 4090", "compute_capability": "8.9"}

RECORDED: dict[str, Any] = {
    "python": {"version": "3.12.3"},
    "os": {"system": "Linux", "release": "6.8.0", "distro": "Ubuntu 24.04.3 LTS"},
    "cpu": {"model": "Intel(R) Xeon(R) Processor", "count": 16},
    "gpu": [H100],
    "driver": "580.159.04",
    "cuda": "13.0",
    "cudnn": "9.19.0.56",
    "torch": {"version": "2.11.0+cu130", "cuda": "13.0"},
    "packages": {"torch": "2.11.0", "numpy": "2.5.2", "triton": "3.6.0"},
    "tool": "comfyui",
    "tool_version": "0.3.64",
    "tool_commit": "a125cd84b054a57729b5eecab930ca9408719832",
    "tool_dirty": False,
    "custom_nodes": [
        {"name": "ComfyUI-Impact-Pack", "commit": "1" * 40, "dirty": False},
        {"name": "rgthree-comfy", "commit": "2" * 40, "dirty": False},
    ],
}


def keys(diffs: list[dict[str, Any]]) -> dict[str, bool]:
    return {d["key"]: d["changes_output"] for d in diffs}


def test_identical_environments_have_no_differences() -> None:
    assert compare_environments(RECORDED, copy.deepcopy(RECORDED), noise_device="gpu") == []


def test_torch_version_change() -> None:
    current = copy.deepcopy(RECORDED)
    current["torch"]["version"] = "2.14.1+cu130"
    [diff] = compare_environments(RECORDED, current)
    assert diff["key"] == "torch" and diff["changes_output"] is True
    assert (diff["recorded"], diff["current"]) == ("2.11.0+cu130", "2.14.1+cu130")
    assert diff["reason"]


def test_custom_node_commit_change_dirty_missing_and_new() -> None:
    current = copy.deepcopy(RECORDED)
    current["custom_nodes"][0]["commit"] = "3" * 40
    current["custom_nodes"][1]["dirty"] = True
    current["custom_nodes"].append({"name": "was-node-suite", "commit": "4" * 40})
    diffs = compare_environments(RECORDED, current)
    assert keys(diffs) == {
        "custom_nodes.ComfyUI-Impact-Pack": True,
        "custom_nodes.rgthree-comfy": True,
        "custom_nodes.was-node-suite": False,
    }
    impact = next(d for d in diffs if d["key"] == "custom_nodes.ComfyUI-Impact-Pack")
    assert (impact["recorded"], impact["current"]) == ("1" * 40, "3" * 40)
    current["custom_nodes"] = current["custom_nodes"][1:]
    diffs = compare_environments(RECORDED, current)
    missing = next(d for d in diffs if d["key"] == "custom_nodes.ComfyUI-Impact-Pack")
    assert missing["current"] == "missing" and missing["changes_output"] is True


def test_gpu_change_matters_when_noise_is_drawn_on_the_gpu() -> None:
    current = copy.deepcopy(RECORDED)
    current["gpu"] = [RTX4090]
    [on_gpu] = compare_environments(RECORDED, current, noise_device="gpu")
    assert on_gpu["key"] == "gpu" and on_gpu["changes_output"] is True
    assert on_gpu["recorded"] == ["NVIDIA H100 80GB HBM3"]
    assert on_gpu["current"] == ["NVIDIA GeForce RTX 4090"]
    assert "9.0" in on_gpu["reason"] or "Hopper" in on_gpu["reason"]
    # ComfyUI draws noise on the CPU: still reported, as a note.
    [on_cpu] = compare_environments(RECORDED, current, noise_device="cpu")
    assert on_cpu["key"] == "gpu" and on_cpu["changes_output"] is False
    assert "CPU" in on_cpu["reason"]
    [unknown] = compare_environments(RECORDED, current)
    assert unknown["changes_output"] is False


def test_no_gpu_now() -> None:
    current = copy.deepcopy(RECORDED)
    current["gpu"] = []
    [diff] = compare_environments(RECORDED, current, noise_device="gpu")
    assert diff["current"] == [] and diff["changes_output"] is True


def test_stack_tool_and_harmless_differences() -> None:
    current = copy.deepcopy(RECORDED)
    current.update({"cuda": "12.8", "cudnn": "9.8.0", "tool_version": "0.3.65",
                    "tool_commit": "b" * 40, "tool_dirty": True, "driver": "590.1"})
    current["python"]["version"] = "3.12.11"
    current["os"]["release"] = "6.11.0"
    current["packages"].update({"numpy": "2.6.0", "triton": "3.7.0"})
    diffs = compare_environments(RECORDED, current)
    assert keys(diffs) == {
        "cuda": True, "cudnn": True, "tool_version": True, "tool_commit": True,
        "tool_dirty": True, "packages.triton": True,
        "packages.numpy": False, "driver": False, "python": False, "os.release": False,
    }
    # Output-changing differences come first.
    flags = [d["changes_output"] for d in diffs]
    assert flags == sorted(flags, reverse=True)
    python = next(d for d in diffs if d["key"] == "python")
    assert "patch" in python["reason"]


def test_unknown_values_are_not_differences() -> None:
    current = {"python": {"version": "3.12.3"}}
    assert compare_environments(RECORDED, current, noise_device="gpu") == []
    assert compare_environments({}, RECORDED) == []


def test_determinism_flags() -> None:
    recorded = {"determinism": {"allow_tf32": False, "deterministic": True}}
    current = {"determinism": {"allow_tf32": True, "deterministic": True}}
    assert keys(compare_environments(recorded, current)) == {"determinism.allow_tf32": True}


def test_comfyui_launch_flags() -> None:
    base = ["main.py", "--listen", "127.0.0.1", "--port", "8188"]
    recorded = {"argv": [*base, "--cpu"]}
    moved = {"argv": ["main.py", "--port", "9999", "--cpu", "--disable-auto-launch"]}
    assert compare_environments(recorded, moved) == []
    [diff] = compare_environments(recorded, {"argv": [*base, "--fp16-unet"]})
    assert diff["key"] == "argv" and diff["changes_output"] is True
    assert (diff["recorded"], diff["current"]) == (["--cpu"], ["--fp16-unet"])


def test_packages_not_found_on_one_side_are_unknown_not_absent() -> None:
    """verify found no venv for the tool (the server runs elsewhere): its packages are
    unknown, so nothing is called absent and nothing downgrades (issue 12 item 12)."""
    recorded = {"packages": {"spandrel": "0.4.1", "torchvision": "0.29.1"}}
    assert compare_environments(recorded, {"packages": {}}) == []
    assert compare_environments({"packages": {}}, recorded) == []
    changed = compare_environments(recorded, {"packages": {"spandrel": "0.4.2",
                                                            "torchvision": "0.29.1"}})
    assert [d["key"] for d in changed] == ["packages.spandrel"]
