"""`repro status`: uncaptured outputs, changed model files, records no longer ready."""

from __future__ import annotations

from pathlib import Path

import pytest

from repro.demo import model_bytes, write_safetensors
from tests.helpers import make_output, run, run_json


def test_status_lists_what_needs_attention(project: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    fox = make_output(project, "fox.png", seed=1)
    make_output(project, "owl.png", seed=2)
    rid = run_json(capsys, "-C", project, "add", fox)["records"][0]["id"]
    (project / "outputs" / "notes.txt").write_text("not an image")

    data = run_json(capsys, "-C", project, "status")
    assert data == {"uncaptured": ["outputs/owl.png"], "models_changed": [], "not_ready": []}

    write_safetensors(project / "models/checkpoints/base.safetensors", model_bytes(9, 300_000))
    data = run_json(capsys, "-C", project, "status")
    [changed] = data["models_changed"]
    assert changed["path"] == "models/checkpoints/base.safetensors"
    assert changed["role"] == "checkpoint" and changed["records"] == 1
    assert changed["now"] not in changed["recorded"]
    assert [r["id"] for r in data["not_ready"]] == [rid]

    code, out, _ = run(capsys, "-C", project, "status")
    assert code == 0
    assert "outputs/owl.png" in out and "models/checkpoints/base.safetensors" in out
    assert rid[:12] in out


def test_a_clean_project_says_so(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_json(capsys, "-C", project, "add", make_output(project, "fox.png", seed=1))
    code, out, _ = run(capsys, "-C", project, "status")
    assert code == 0 and out.startswith("nothing to do")


def test_a_recaptured_model_update_is_not_a_change(project: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """A path recorded with two versions, holding the newer: the older record is not
    ready (its version is elsewhere), but the file is one repro knows."""
    run_json(capsys, "-C", project, "add", make_output(project, "a.png", seed=1))
    write_safetensors(project / "models/checkpoints/base.safetensors", model_bytes(9, 300_000))
    run_json(capsys, "-C", project, "add", make_output(project, "b.png", seed=2))
    data = run_json(capsys, "-C", project, "status")
    assert data["models_changed"] == []
    assert len(data["not_ready"]) == 1
