"""``repro demo`` runs its story to the end, in a new or empty folder only."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run


def test_demo_runs_as_scripted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "-C", tmp_path, "demo", "story")
    assert code == 0, err
    assert f"The demo project is in {tmp_path / 'story'}" in out
    assert (tmp_path / "story" / ".repro").is_dir()


def test_demo_refuses_a_folder_that_is_not_empty(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    code, _, err = run(capsys, "-C", tmp_path, "demo", "full")
    assert code == 1
    assert err.startswith("error:") and "is not empty" in err
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]


def test_demo_without_a_folder_cleans_up_after_itself(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    code, out, err = run(capsys, "-C", tmp_path, "demo")
    assert code == 0, err
    assert "now removed" in out
    assert list(scratch.iterdir()) == []
    code, out, err = run(capsys, "-C", tmp_path, "demo", "--keep")
    assert code == 0, err
    [kept] = scratch.iterdir()
    assert f"The demo project is in {kept}" in out and (kept / ".repro").is_dir()
