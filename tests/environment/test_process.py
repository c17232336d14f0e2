"""Finding the Python a local server runs in from its process (issue 12 item 12)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from repro.comfyui.system_stats import server_environment
from repro.environment import process
from repro.environment.process import find_process, python_env_of_process
from repro.watch.server_env import with_server_packages
from tests.environment.test_packages import fake_venv

ARGV = ["main.py", "--cpu", "--port", "8188"]


def fake_proc(root: Path, pid: int, cmdline: list[str], *, cwd: Path | None = None,
              environ: dict[str, str] | None = None) -> Path:
    """A ``/proc/<pid>`` folder with the files ``repro.environment.process`` reads."""
    folder = root / str(pid)
    folder.mkdir(parents=True)
    (folder / "cmdline").write_bytes(b"\0".join(a.encode() for a in cmdline) + b"\0")
    (folder / "environ").write_bytes(b"\0".join(f"{k}={v}".encode()
                                                for k, v in (environ or {}).items()))
    if cwd is not None:
        os.symlink(cwd, folder / "cwd")
    return folder


def test_the_server_process_and_its_venv(tmp_path: Path) -> None:
    venv = tmp_path / "apps" / "comfy-env"
    fake_venv(venv)
    proc = tmp_path / "proc"
    fake_proc(proc, 10, ["bash"])
    fake_proc(proc, 11, ["python3", "other.py", "--cpu", "--port", "8188"])
    server = fake_proc(proc, 12, [str(venv / "bin" / "python3.11"), *ARGV])
    assert find_process(ARGV, proc) == server
    assert python_env_of_process(server) == venv
    # Relative to its working folder, or named by VIRTUAL_ENV when started as "python".
    relative = fake_proc(tmp_path / "proc2", 13, ["../comfy-env/bin/python", *ARGV],
                         cwd=tmp_path / "apps" / "ComfyUI")
    assert python_env_of_process(relative) == venv
    by_env = fake_proc(tmp_path / "proc3", 14, ["python", *ARGV],
                       environ={"VIRTUAL_ENV": str(venv)})
    assert python_env_of_process(by_env) == venv
    # Two candidates: not known which one answered.
    fake_proc(proc, 15, ["python", *ARGV])
    assert find_process(ARGV, proc) is None
    assert python_env_of_process(fake_proc(proc, 16, ["python", *ARGV])) is None


@pytest.mark.parametrize(("server_torch", "found"), [("2.14.1+cu130", True),
                                                     ("2.9.0+cpu", False)])
def test_server_packages_only_from_the_python_that_answered(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server_torch: str, found: bool) -> None:
    venv = tmp_path / "comfy-env"
    fake_venv(venv)
    server = fake_proc(tmp_path / "proc", 12, [str(venv / "bin" / "python"), *ARGV])
    monkeypatch.setattr(process, "find_process", lambda argv: server if argv == ARGV else None)
    stats = {"system": {"argv": ARGV, "pytorch_version": server_torch,
                        "python_version": "3.11.7 (main)"}}
    # The install's scan did not find the venv: no packages, no env_path.
    env = server_environment(stats, {"packages": {}}, url="http://127.0.0.1:8188")
    out = with_server_packages(env, stats)
    assert out is not None
    if found:
        assert out["packages"]["xformers"] == "0.0.33.post1"
        assert out["python"] == {"version": "3.11.7", "build": "3.11.7 (main)",
                                 "env_path": str(venv)}
        assert out["cudnn"] == "9.19.0.56"
    else:
        assert out == env and out["packages"] == {}
