"""The lock-object fallback (an S3 engine without conditional writes, forced here with
``remote add --lock-object`` on SeaweedFS): two processes move one tag at once,
exactly one wins and the other gets the lost-update message; pushes of records
through it lose nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from repro.api.remote import get_remote, open_remote
from repro.api.repository import Repository
from repro.remote.s3 import LOCK_OBJECT
from repro.remote.tags import read_tag
from tests.helpers import make_output, run, run_json
from tests.remote.conftest import S3Engine

RUN = "import sys\nfrom repro.cli import main\nsys.exit(main(sys.argv[1:]))\n"


def _start(*args: str | Path, delay: float = 0.0) -> subprocess.Popen[str]:
    env = {**os.environ, "REPRO_TEST_CHECKPOINT_DELAY": str(delay)} if delay else None
    return subprocess.Popen([sys.executable, "-c", RUN, *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_processes_moving_one_tag_under_a_lock_object(
        capsys: pytest.CaptureFixture[str], project: Path, tmp_path: Path,
        s3_env: S3Engine) -> None:
    paths = [make_output(project, f"t{i}.png", seed=60 + i) for i in range(3)]
    ids = [r["id"] for r in run_json(capsys, "-C", project, "add", *paths)["records"]]
    url = f"s3://{s3_env.new_bucket()}/team"
    run(capsys, "-C", project, "remote", "add", "origin", url, "--endpoint", s3_env.endpoint,
        "--lock-object")
    assert run_json(capsys, "-C", project, "remote", "list")[0]["cas"] == "lock-object"
    run(capsys, "-C", project, "tag", "final", ids[0])
    run_json(capsys, "-C", project, "push")
    other = tmp_path / "laptop"
    run_json(capsys, "clone", url, other, "--endpoint", s3_env.endpoint)
    # a clone's origin is a plain S3 remote: say it too lacks conditional writes
    run(capsys, "-C", other, "remote", "remove", "origin")
    run(capsys, "-C", other, "remote", "add", "origin", url, "--endpoint", s3_env.endpoint,
        "--lock-object")
    run_json(capsys, "-C", other, "pull")  # sees the tag as it is
    assert open_remote(get_remote(Repository.discover(other), None)).cas_method == LOCK_OBJECT

    run(capsys, "-C", project, "tag", "final", ids[1], "--force")
    run(capsys, "-C", other, "tag", "final", ids[2], "--force")
    # each sleeps at its checkpoints: both have read the tag before either moves it
    procs = [_start("-C", root, "push", delay=1.0) for root in (project, other)]
    outs = [p.communicate(timeout=300) for p in procs]
    results = [(p.returncode, err) for p, (_, err) in zip(procs, outs, strict=True)]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 5], results
    loser = next(err for code, err in results if code == 5)
    assert "tag 'final' on the remote was moved by someone else" in loser and "hint:" in loser
    winner = ids[1] if results[0][0] == 0 else ids[2]
    remote = open_remote(get_remote(Repository.discover(project), None))
    assert read_tag(remote, "final") == winner
    assert not remote.exists("tags/final.lock")  # the winner's lock is gone


def test_pushes_through_a_lock_object_lose_no_records(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, s3_env: S3Engine) -> None:
    url = f"s3://{s3_env.new_bucket()}/team"
    ids: list[str] = []
    for name, seed in (("a", 100), ("b", 200)):
        root = tmp_path / name
        run(capsys, "init", root)
        paths = [make_output(root, f"{name}{i}.png", seed=seed + i, lora=None) for i in range(3)]
        ids += [r["id"] for r in run_json(capsys, "-C", root, "add", *paths)["records"]]
        run(capsys, "-C", root, "remote", "add", "origin", url, "--endpoint", s3_env.endpoint,
            "--lock-object")
    procs = [_start("-C", tmp_path / n, "push") for n in ("a", "b")]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    run_json(capsys, "clone", url, tmp_path / "c", "--endpoint", s3_env.endpoint)
    assert set(Repository.discover(tmp_path / "c").index.iter_ids()) == set(ids)
