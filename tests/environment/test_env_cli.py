"""``repro env`` text and JSON; a ComfyUI root's model folders become model roots."""

from __future__ import annotations

from pathlib import Path

import pytest

from repro.api.repository import Repository
from tests.comfyui.replay import Replay, serve
from tests.environment.gitutil import commit, make_repo
from tests.environment.test_packages import fake_venv
from tests.helpers import run, run_json


def test_env_describes_this_machine_and_a_comfyui_install(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "ComfyUI"
    tool = make_repo(root, {"comfyui_version.py": '__version__ = "0.3.64"\n',
                            ".gitignore": "/custom_nodes/*\nvenv/\n"})
    make_repo(root / "custom_nodes" / "Clean-Pack", {"a.py": "A = 1\n"})
    make_repo(root / "custom_nodes" / "Dirty-Pack", {"b.py": "B = 1\n"})
    dirty = commit(root / "custom_nodes" / "Dirty-Pack", {"b.py": "B = 2\n"})
    (root / "custom_nodes" / "Dirty-Pack" / "b.py").write_text("B = 3  # edited\n")
    fake_venv(root / "venv", "2.14.1+cu130", cuda="13.0")

    env = run_json(capsys, "-C", tmp_path, "env", "--comfyui-root", root)
    for key in ("os", "python", "cpu", "gpu", "torch", "cuda", "cudnn", "packages", "tool",
                "tool_version", "tool_commit", "tool_dirty", "custom_nodes"):
        assert key in env, key
    assert env["tool_commit"] == tool and env["tool_dirty"] is False
    assert env["python"]["version"] == "3.11.7"  # the tool's venv, not repro's Python

    code, out, err = run(capsys, "-C", tmp_path, "env", "--comfyui-root", root)
    assert code == 0, err
    lines = out.splitlines()
    assert any(line.startswith("torch") and "2.14.1+cu130" in line and "CUDA 13.0" in line
               and "cuDNN 9.19.0.56" in line for line in lines)
    assert any(line.startswith("tool") and "comfyui 0.3.64" in line and tool[:12] in line
               and "clean" in line for line in lines)
    assert "custom nodes (2):" in lines
    [dirty_line] = [line for line in lines if "Dirty-Pack" in line]
    assert dirty[:12] in dirty_line and dirty_line.rstrip().endswith("dirty")
    [clean_line] = [line for line in lines if "Clean-Pack" in line]
    assert clean_line.rstrip().endswith("clean")
    for label in ("os", "python", "cpu", "gpu"):
        assert any(line.startswith(label) for line in lines), label


def test_env_asks_a_running_comfyui(tmp_path: Path, comfy_fixtures: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    with serve(Replay(comfy_fixtures)) as url:
        env = run_json(capsys, "-C", tmp_path, "env", "--comfyui", url)
        code, out, err = run(capsys, "-C", tmp_path, "env", "--comfyui", url)
    assert code == 0, err
    assert env["tool_version"] == "0.3.64" and env["torch"]["version"] == "2.14.1+cu130"
    assert env["argv"] == ["main.py", "--cpu", "--listen", "127.0.0.1", "--port", "8188",
                           "--disable-auto-launch"]
    assert "launched     main.py --cpu" in out
    assert "server       " + url in out


def test_env_says_when_the_server_does_not_answer(tmp_path: Path, comfy_fixtures: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    replay = Replay(comfy_fixtures)
    replay.down = True
    with serve(replay) as url:
        code, _out, err = run(capsys, "-C", tmp_path, "env", "--comfyui", url)
    assert code == 1
    assert err.startswith("error: ") and "no answer" in err and "hint: is ComfyUI running" in err


def test_comfyui_root_adds_models_and_extra_model_paths(tmp_path: Path) -> None:
    comfy = tmp_path / "ComfyUI"
    (comfy / "models").mkdir(parents=True)
    (comfy / "extra_model_paths.yaml").write_text(
        "a1111:\n    base_path: ../webui/\n    loras: models/Lora\n"
        "    upscale_models: odd/place\n    custom_nodes: nodes\n")
    project = tmp_path / "project"
    Repository.init(project)
    (project / ".reprorc").write_text('[comfyui]\nroot = "../ComfyUI"\n')
    roots = Repository.discover(project).config.model_roots
    webui = (tmp_path / "webui").resolve()
    assert comfy.resolve() / "models" in roots
    assert webui in roots  # base_path
    assert webui / "models" in roots  # models/Lora, looked under as the A1111 layout
    assert webui / "odd" / "place" in roots
    assert not any(r.name == "nodes" for r in roots)


def test_a_model_under_an_extra_path_is_found(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from repro.demo import model_bytes, set_mtime, write_safetensors
    from tests.helpers import make_output

    comfy = tmp_path / "ComfyUI"
    (comfy / "models").mkdir(parents=True)
    (comfy / "extra_model_paths.yaml").write_text(
        "shared:\n    base_path: ../shared-models/\n    checkpoints: ckpts\n"
        "    loras: models/Lora\n")
    ckpt = write_safetensors(tmp_path / "shared-models" / "ckpts" / "base.safetensors",
                             model_bytes(1, 4096))
    lora = write_safetensors(tmp_path / "shared-models" / "models" / "Lora" / "style.safetensors",
                             model_bytes(2, 2048))
    for p in (ckpt, lora):
        set_mtime(p, 7200)
    project = tmp_path / "project"
    Repository.init(project)
    (project / ".reprorc").write_text('[comfyui]\nroot = "../ComfyUI"\n')
    output = make_output(project, "x.png", seed=3)
    [record] = run_json(capsys, "-C", project, "add", output, "--no-env")["records"]
    assert record["level"] == "full", record["reasons"]
    data = Repository.discover(project).load_record(record["id"]).to_dict()
    assert {m["role"]: Path(m["path"]).name for m in data["models"]} == {
        "checkpoint": "base.safetensors", "lora": "style.safetensors"}
