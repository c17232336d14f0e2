"""Hostile records and model roots: checkout never writes outside the roots,
object ids that are not 64 hex never become paths, symlink loops never hang."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from repro.api.repository import Repository
from repro.objects.hashing import hash_file
from tests.helpers import make_output, record_bytes, record_of, repro_subprocess, run

Capsys = pytest.CaptureFixture[str]


@pytest.fixture
def project(project: Path, capsys: Capsys) -> Path:
    """The shared project (tests/conftest.py) with outputs made for these tests."""
    make_output(project, "o.png", seed=1)
    assert run(capsys, "-C", project, "add", project / "outputs", "--no-env")[0] == 0
    return project


def _foreign_record(root: Path, **model: Any) -> str:
    """A record as someone else's store might hold it, written and indexed by hand."""
    repo = Repository(root)
    data = next(repo.iter_record_objects()).to_dict()
    [ckpt] = [m for m in data["models"] if m["role"] == "checkpoint"]
    data["models"] = [{**ckpt, **model}]
    data["message"] = f"foreign {model}"
    rid = repo.store.put_bytes(record_bytes(data))
    repo.index.add(record_of(data, rid))
    repo.close()
    return rid


@pytest.mark.parametrize("recorded", [
    "models/checkpoints/../../../outside/evil.safetensors",
    "../outside/evil.safetensors",
    "models\\..\\..\\outside\\evil.safetensors",
])
def test_dot_dot_paths_are_refused(project: Path, capsys: Capsys, recorded: str) -> None:
    rid = _foreign_record(project, path=recorded)
    code, _, err = run(capsys, "-C", project, "checkout", rid, "--force")
    assert code == 5 and err.startswith("error: refusing")
    assert not (project.parent / "outside").exists()


def test_absolute_path_outside_the_roots_is_refused(project: Path, capsys: Capsys) -> None:
    target = project.parent / "outside" / "evil.safetensors"
    rid = _foreign_record(project, path=str(target))
    code, _, err = run(capsys, "-C", project, "checkout", rid, "--force")
    assert code == 5 and "outside the model roots" in err
    assert not target.parent.exists()


def test_symlink_in_a_model_root_leading_out_is_refused(project: Path, capsys: Capsys) -> None:
    outside = project.parent / "outside"
    outside.mkdir()
    (project / "models/checkpoints/escape").symlink_to(outside, target_is_directory=True)
    rid = _foreign_record(project, path="models/checkpoints/escape/evil.safetensors")
    code, _, err = run(capsys, "-C", project, "checkout", rid, "--force")
    assert code == 5 and "symlink" in err
    assert list(outside.iterdir()) == []


def test_symlinked_model_file_is_not_written_through(project: Path, capsys: Capsys) -> None:
    victim = project.parent / "victim.txt"
    victim.write_text("precious")
    link = project / "models/checkpoints/base.safetensors"
    link.unlink()
    link.symlink_to(victim)
    code, _, err = run(capsys, "-C", project, "checkout", "outputs/o.png", "--force")
    assert code == 5 and "symlink" in err
    assert victim.read_text() == "precious"


@pytest.mark.parametrize("bad", ["../../../../etc/passwd", "0" * 63, "G" * 64, "0" * 64 + "/x"])
def test_object_ids_that_are_not_64_hex_never_become_paths(project: Path, capsys: Capsys,
                                                           bad: str) -> None:
    repo = Repository(project)
    with pytest.raises(ValueError):
        repo.store.path(bad)
    assert bad not in repo.store
    repo.close()
    rid = _foreign_record(project, blake3=bad)
    code, _, err = run(capsys, "-C", project, "checkout", rid, "--force")
    assert code == 7 and "not an object id" in err and "Traceback" not in err


def test_symlink_loops_in_a_model_root_do_not_hang(project: Path) -> None:
    models = project / "models"
    (models / "checkpoints" / "again").symlink_to(models, target_is_directory=True)
    (models / "loop-a").symlink_to(models / "loop-b")
    (models / "loop-b").symlink_to(models / "loop-a")
    (models / "loras" / "self").symlink_to(".", target_is_directory=True)
    out = make_output(project, "renamed.png", seed=2, ckpt="elsewhere.safetensors")
    os.rename(models / "checkpoints/base.safetensors", models / "moved.safetensors")
    # Subprocesses with a timeout: a hang fails the test instead of stalling it.
    proc = repro_subprocess("add", out, "--no-env", "--json", cwd=project)
    assert proc.returncode == 0, proc.stderr
    proc = repro_subprocess("verify", "outputs/o.png", "--json", cwd=project)
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr
    assert '"moved"' in proc.stdout  # the content search walked the roots and found it
    assert hash_file(models / "moved.safetensors")
