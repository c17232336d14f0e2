"""Progress on the long jobs: checkout, verify, models --hashes (any command that reads
or writes a big file) on a terminal; quiet otherwise."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import repro.api.repository
from repro.api.checkout import checkout
from repro.api.repository import Repository
from repro.demo import model_bytes, write_safetensors
from tests.helpers import make_output, repro_subprocess, run_json


@pytest.fixture
def small_is_big(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file counts as big (the real threshold is 100 MiB)."""
    monkeypatch.setattr(repro.api.repository, "BIG_FILE", 0)


def test_checkout_reports_the_bytes_it_restores(project: Path, small_is_big: None,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    rid = run_json(capsys, "-C", project, "add",
                   make_output(project, "a.png", seed=1))["records"][0]["id"]
    ckpt = project / "models/checkpoints/base.safetensors"
    ckpt.unlink()
    repo = Repository.discover(project)
    calls: list[tuple[str, int, int]] = []
    checkout(repo, repo.load_record(rid), progress=lambda *a: calls.append(a))
    restoring = [c for c in calls if c[0] == "restoring base.safetensors"]
    assert restoring and restoring[-1][1] == restoring[-1][2] == ckpt.stat().st_size


def test_hashing_a_big_file_reports_through_the_repository(
        project: Path, small_is_big: None, capsys: pytest.CaptureFixture[str]) -> None:
    rid = run_json(capsys, "-C", project, "add",
                   make_output(project, "a.png", seed=1))["records"][0]["id"]
    write_safetensors(project / "models/checkpoints/base.safetensors", model_bytes(9, 300_000))
    from repro.api.verify import verify_records

    repo = Repository.discover(project)
    calls: list[tuple[str, int, int]] = []
    repo.progress = lambda *a: calls.append(a)
    verify_records(repo, [repo.load_record(rid)])
    assert any(c[0] == "hashing base.safetensors" and c[1] == c[2] for c in calls)


def test_the_bar_on_a_terminal(capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    from repro.cli.render import Progress

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    bar = Progress()
    bar("restoring base.safetensors", 2**30, 3 * 2**30)
    bar("restoring base.safetensors", 3 * 2**30, 3 * 2**30)
    err = capsys.readouterr().err
    assert "restoring base.safetensors [##########" in err and "1.0 GiB of 3.0 GiB" in err
    assert err.endswith("\r\x1b[K")  # cleared when done
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    quiet = Progress()
    quiet("restoring", 1, 3)
    assert capsys.readouterr().err == ""


def test_a_pipe_gets_no_progress(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rid = run_json(capsys, "-C", project, "add",
                   make_output(project, "a.png", seed=1))["records"][0]["id"]
    (project / "models/checkpoints/base.safetensors").unlink()
    proc = repro_subprocess("checkout", rid, cwd=project)
    assert proc.returncode == 0 and "\r" not in proc.stderr
