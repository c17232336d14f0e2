"""Faults: each one clear line with a hint and a documented exit status, nothing lost."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from repro.api.repository import Repository
from tests.helpers import make_output, run, run_json
from tests.remote.conftest import S3Engine


def _one(capsys: pytest.CaptureFixture[str], root: Path) -> str:
    out = run_json(capsys, "-C", root, "add", make_output(root, "a.png", seed=7))
    return str(out["records"][0]["id"])


def _err_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


def test_wrong_credentials(capsys: pytest.CaptureFixture[str], project: Path,
                           s3_env: S3Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    _one(capsys, project)
    run(capsys, "-C", project, "remote", "add", "o", f"s3://{s3_env.new_bucket()}/p",
        "--endpoint", s3_env.endpoint)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    code, _, err = run(capsys, "-C", project, "push")
    assert code == 11
    lines = _err_lines(err)
    assert lines[0].startswith("error: the S3 endpoint refused the credentials")
    assert lines[1].startswith("hint:") and len(lines) == 2


def test_missing_bucket(capsys: pytest.CaptureFixture[str], project: Path,
                        s3_env: S3Engine) -> None:
    _one(capsys, project)
    run(capsys, "-C", project, "remote", "add", "o", "s3://no-such-bucket-here/p",
        "--endpoint", s3_env.endpoint)
    code, _, err = run(capsys, "-C", project, "push")
    assert code == 11 and "bucket no-such-bucket-here does not exist" in err and "hint:" in err


def test_endpoint_down(capsys: pytest.CaptureFixture[str], project: Path,
                       s3_env: S3Engine) -> None:
    _one(capsys, project)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    run(capsys, "-C", project, "remote", "add", "o", "s3://bucket/p",
        "--endpoint", f"http://127.0.0.1:{port}")
    code, _, err = run(capsys, "-C", project, "push")
    assert code == 11 and "does not answer" in err and "hint:" in err
    assert len(_err_lines(err)) == 2


def test_missing_folder(capsys: pytest.CaptureFixture[str], project: Path, tmp_path: Path) -> None:
    _one(capsys, project)
    run(capsys, "-C", project, "remote", "add", "o", tmp_path / "not-mounted")
    code, _, err = run(capsys, "-C", project, "push")
    assert code == 11 and "does not exist" in err and "mount" in err


def test_a_clone_from_a_remote_not_there_leaves_nothing_behind(
        capsys: pytest.CaptureFixture[str], project: Path, tmp_path: Path) -> None:
    nas, dest = tmp_path / "nas", tmp_path / "clone"
    code, _, err = run(capsys, "clone", nas, dest)
    assert code == 11 and "does not exist" in err and "mount" in err
    assert not (dest / ".repro").exists()
    # Once the share is there, the same command into the same folder works.
    rid = _one(capsys, project)
    nas.mkdir()
    run(capsys, "-C", project, "remote", "add", "nas", nas)
    assert run(capsys, "-C", project, "push", "nas")[0] == 0
    assert run(capsys, "clone", nas, dest)[0] == 0
    assert Repository.discover(dest).index.count() == 1 and rid


def test_a_clone_from_a_missing_bucket_leaves_nothing_behind(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, s3_env: S3Engine) -> None:
    dest = tmp_path / "clone"
    code, _, err = run(capsys, "clone", "s3://no-such-bucket-here/p", dest,
                       "--endpoint", s3_env.endpoint)
    assert code == 11 and "bucket no-such-bucket-here does not exist" in err
    assert not (dest / ".repro").exists()


PUSHER = """
import sys
from repro.cli import main
sys.exit(main(["-C", sys.argv[1], "push", "nas"]))
"""


def test_two_processes_pushing_at_once_to_a_folder_lose_nothing(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    nas = tmp_path / "nas"
    nas.mkdir()
    ids: dict[str, list[str]] = {}
    for name, seed in (("a", 100), ("b", 200)):
        root = tmp_path / name
        assert run(capsys, "init", root)[0] == 0
        paths = [make_output(root, f"{name}{i}.png", seed=seed + i, lora=None) for i in range(8)]
        ids[name] = [r["id"] for r in run_json(capsys, "-C", root, "add", *paths)["records"]]
        run(capsys, "-C", root, "remote", "add", "nas", nas)
    procs = [subprocess.Popen([sys.executable, "-c", PUSHER, str(tmp_path / n)],
                              stderr=subprocess.PIPE, text=True) for n in ("a", "b")]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    run_json(capsys, "clone", nas, tmp_path / "c")
    got = set(Repository.discover(tmp_path / "c").index.iter_ids())
    assert got == {*ids["a"], *ids["b"]}
