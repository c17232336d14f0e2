from __future__ import annotations

import platform
import shutil
from pathlib import Path

import orjson
import pytest

from repro.environment.compare import compare_environments
from repro.environment.current import clear_cache, current_environment
from tests.environment.test_installs import build_comfyui


def test_current_environment_on_this_machine() -> None:
    env = current_environment(refresh=True)
    assert env["python"]["version"] == platform.python_version()
    assert env["os"]["system"] == platform.system()
    assert isinstance(env["cpu"]["count"], int)
    assert isinstance(env["gpu"], list)
    if shutil.which("nvidia-smi") is None and not Path("/proc/driver/nvidia/version").exists():
        assert env["gpu"] == [] and "driver" not in env
    assert isinstance(env["packages"], dict)
    assert "tool" not in env and "custom_nodes" not in env
    orjson.dumps(env)
    assert compare_environments(env, current_environment()) == []


def test_current_environment_with_comfyui_root(tmp_path: Path) -> None:
    root, shas = build_comfyui(tmp_path)
    env = current_environment(comfyui_root=root, refresh=True)
    assert env["tool"] == "comfyui"
    assert env["tool_version"] == "0.3.64"
    assert env["tool_commit"] == shas["comfyui"]
    assert env["tool_dirty"] is False
    assert env["tool_remote"] == "https://github.com/comfyanonymous/ComfyUI.git"
    # The tool's own venv decides python and torch, not the Python running repro.
    assert env["python"]["version"] == "3.11.7"
    assert env["torch"]["version"] == "2.14.1+cu130"
    assert env["cuda"] == "13.0" and env["cudnn"] == "9.19.0.56"
    assert env["packages"]["torch"] == "2.14.1"
    assert {n["name"] for n in env["custom_nodes"]} >= {"ComfyUI-Clean", "ComfyUI-Dirty"}
    assert env["model_roots"][0] == str(root.resolve() / "models")
    orjson.dumps(env)

    # Handed-out dicts are copies: changing one does not poison the cache.
    env["custom_nodes"].clear()
    again = current_environment(comfyui_root=root)
    assert len(again["custom_nodes"]) == 4

    # Scanned again when a watched tree changed (issue 12 item 5): a custom node moved
    # to another commit shows without a refresh.
    from tests.environment.gitutil import commit

    new = commit(root / "custom_nodes" / "ComfyUI-Clean", {"__init__.py": "X = 1\n"})
    fresh = current_environment(comfyui_root=root)
    diffs = compare_environments(again, fresh)
    # The hand-edited node is always reported: its local changes cannot be compared.
    assert [(d["key"], d["current"], d["changes_output"]) for d in diffs] == [
        ("custom_nodes.ComfyUI-Clean", new, True), ("custom_nodes.ComfyUI-Dirty", "dirty", True)]
    clear_cache()


def test_a_tool_whose_venv_is_not_found_records_no_packages(tmp_path: Path) -> None:
    """Issue 12 item 12: not repro's own Python, packages and torch instead."""
    root = tmp_path / "ComfyUI"
    (root / "custom_nodes").mkdir(parents=True)
    (root / "comfyui_version.py").write_text('__version__ = "0.3.64"\n')
    env = current_environment(comfyui_root=root, refresh=True)
    assert env["tool"] == "comfyui" and env["tool_version"] == "0.3.64"
    assert env["packages"] == {} and "torch" not in env and "python" not in env
    assert "cuda" not in env and "cudnn" not in env
    clear_cache()


def test_the_install_scan_is_done_again_only_when_a_watched_tree_changed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 12 item 5: cheap when nothing changed (a few stats, no scan); a package
    installed in the venv or a node added is seen at the next call."""
    import repro.environment.current as current

    root, _ = build_comfyui(tmp_path)
    scans: list[str] = []
    real = current.comfyui_install
    monkeypatch.setattr(current, "comfyui_install",
                        lambda r: scans.append(r) or real(r))
    clear_cache()
    first = current_environment(comfyui_root=root)
    for _ in range(20):
        assert current_environment(comfyui_root=root) == first
    assert len(scans) == 1
    (root / "custom_nodes" / "new_node.py").write_text("NODE_CLASS_MAPPINGS = {}\n")
    assert "new_node.py" in {n["name"] for n in current_environment(comfyui_root=root)
                             ["custom_nodes"]}
    [site] = list((root / "venv").glob("lib/python3*/site-packages"))
    dist = site / "einops-0.8.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: einops\nVersion: 0.8.1\n")
    assert current_environment(comfyui_root=root)["packages"].get("einops") == "0.8.1"
    assert len(scans) == 3
    clear_cache()
