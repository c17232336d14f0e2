"""``verify`` compares the recorded environment with the current install's."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from repro.api.repository import Repository
from tests.environment.gitutil import commit, make_repo
from tests.environment.test_packages import fake_venv
from tests.helpers import make_output, make_project, run, run_json


def _install(tmp_path: Path) -> Path:
    """A ComfyUI folder: git checkout, one custom node repository, a venv with torch."""
    root = tmp_path / "ComfyUI"
    make_repo(root, {"comfyui_version.py": '__version__ = "0.3.64"\n',
                     ".gitignore": "/custom_nodes/*\n/models/*\nvenv/\n"})
    make_repo(root / "custom_nodes" / "ComfyUI-Pack", {"__init__.py": "X = 1\n"})
    fake_venv(root / "venv", "2.14.1+cu130", cuda="13.0")
    return root


@pytest.fixture
def captured(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path, str]:
    comfy = _install(tmp_path)
    project = tmp_path / "project"
    Repository.init(project)
    (project / ".reprorc").write_text('[comfyui]\nroot = "../ComfyUI"\n')
    make_project(project)
    output = make_output(project, "ComfyUI_00001_.png", seed=5)
    added = run_json(capsys, "-C", project, "add", output)
    [record] = added["records"]
    assert record["level"] == "full", record["reasons"]
    return comfy, project, record["id"]


def test_env_lands_in_records(captured: tuple[Path, Path, str],
                              capsys: pytest.CaptureFixture[str]) -> None:
    _comfy, project, rid = captured
    env = Repository.discover(project).load_record(rid).environment
    assert env["tool"] == "comfyui" and env["tool_version"] == "0.3.64"
    assert env["torch"]["version"] == "2.14.1+cu130"
    [node] = env["custom_nodes"]
    assert node["name"] == "ComfyUI-Pack" and node["dirty"] is False
    result = run_json(capsys, "-C", project, "verify", rid)
    assert result["level"] == "full" and result["ready"] is True
    assert [d for d in result["environment"] if d["changes_output"]] == []


def test_verify_downgrades_for_a_custom_node_at_another_commit(
        captured: tuple[Path, Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    comfy, project, rid = captured
    new = commit(comfy / "custom_nodes" / "ComfyUI-Pack", {"__init__.py": "X = 2\n"})
    code, out, err = run(capsys, "-C", project, "verify", rid)
    assert code == 0, err  # the models are all there: ready, but not the same result
    assert f"{rid[:12]}" in out and "approximate, ready" in out
    assert "custom node ComfyUI-Pack is at another commit" in out
    assert new in out


def test_verify_downgrades_for_another_torch(captured: tuple[Path, Path, str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    comfy, project, rid = captured
    version_py = next((comfy / "venv").rglob("torch/version.py"))
    version_py.write_text(version_py.read_text().replace("2.14.1+cu130", "2.15.0+cu130"))
    result = run_json(capsys, "-C", project, "verify", rid)
    assert result["level"] == "approximate"
    [torch] = [d for d in result["environment"] if d["key"] == "torch"]
    assert torch == {"key": "torch", "recorded": "2.14.1+cu130", "current": "2.15.0+cu130",
                     "reason": torch["reason"], "changes_output": True}
    assert any("another PyTorch version" in r and "2.15.0+cu130" in r for r in result["reasons"])


def test_no_env_and_config_switch_leave_it_out(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "p"
    Repository.init(project)
    make_project(project)
    one = make_output(project, "a.png", seed=1)
    two = make_output(project, "b.png", seed=2)
    three = make_output(project, "c.png", seed=3)
    repo = Repository.discover(project)
    ids = [run_json(capsys, "-C", project, "add", one)["records"][0]["id"],
           run_json(capsys, "-C", project, "add", two, "--no-env")["records"][0]["id"]]
    (project / ".reprorc").write_text("[capture]\nenvironment = false\n")
    ids.append(run_json(capsys, "-C", project, "add", three)["records"][0]["id"])
    envs = [repo.load_record(i).environment for i in ids]
    assert envs[0] is not None and "os" in envs[0] and "python" in envs[0]
    assert envs[1] is None and envs[2] is None
    # Without a tool folder, verify does not compare the environment at all.
    assert "environment" not in run_json(capsys, "-C", project, "verify", ids[0])


def test_each_record_gets_the_environment_of_its_own_tool(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With both a ComfyUI and an A1111 folder configured, an A1111 image records A1111's
    install (not ComfyUI's), and verify does not say it was made with another tool."""
    from repro.demo import a1111_parameters, write_a1111_png

    _install(tmp_path)
    webui = tmp_path / "webui"
    make_repo(webui, {"webui.py": "\n", "modules/__init__.py": "\n"})
    project = tmp_path / "project"
    Repository.init(project)
    (project / ".reprorc").write_text('[comfyui]\nroot = "../ComfyUI"\n'
                                      '[a1111]\nroot = "../webui"\n')
    make_project(project)
    comfy_png = make_output(project, "ComfyUI_00001_.png", seed=5)
    a1111_png = write_a1111_png(project / "outputs" / "00001-42.png", a1111_parameters(
        prompt="a lighthouse", negative="text", seed=42, model="base",
        model_hash="0123456789"), pixel_seed=42)
    added = run_json(capsys, "-C", project, "add", comfy_png, a1111_png)
    repo = Repository.discover(project)
    envs = {r["tool"]: repo.load_record(r["id"]).environment for r in added["records"]}
    assert envs["comfyui"]["tool"] == "comfyui"
    assert envs["a1111"]["tool"] == "a1111"
    assert "custom_nodes" not in envs["a1111"]
    for r in added["records"]:
        _code, out, _err = run(capsys, "-C", project, "verify", r["id"], "--json")
        reasons = orjson.loads(out)["reasons"]
        assert not any("another tool" in reason for reason in reasons), reasons
