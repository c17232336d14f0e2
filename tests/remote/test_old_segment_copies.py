"""A store written before the SQLite copy of a remote's index kept each segment read
as a file (``.repro/remotes/NAME/segments/<id>``); the first push or pull with the
SQLite copy removes them, and keeps whatever else is in that folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from repro.api.repository import Repository
from repro.remote import index as rindex
from repro.remote.folder import FolderRemote
from tests.helpers import make_output, run, run_json


def _old_layout(project: Path, nas: Path) -> Path:
    """The remote's folder in ``project`` as the earlier code left it: a copy of every
    segment, and no SQLite file."""
    folder = project / ".repro" / "remotes" / "origin"
    shutil.rmtree(folder)
    (folder / "segments").mkdir(parents=True)
    for entry in rindex.read_head(FolderRemote(nas)).entries:
        (folder / "segments" / entry.seg).write_bytes((nas / rindex.segment_key(entry.seg))
                                                      .read_bytes())
    return folder


def test_the_old_segment_copies_go_when_the_new_cache_is_made(
        capsys: pytest.CaptureFixture[str], project: Path, tmp_path: Path) -> None:
    path = make_output(project, "a.png", seed=7)
    rid = run_json(capsys, "-C", project, "add", path)["records"][0]["id"]
    nas = tmp_path / "nas"
    nas.mkdir()
    run(capsys, "-C", project, "remote", "add", "origin", nas)
    run_json(capsys, "-C", project, "push")
    folder = _old_layout(project, nas)
    assert list((folder / "segments").iterdir())

    pulled = run_json(capsys, "-C", project, "pull")
    assert pulled["records"] == []  # the new cache knows the remote: nothing to fetch
    assert not (folder / "segments").exists()
    assert (folder / "index.sqlite").is_file()
    assert set(Repository.discover(project).index.iter_ids()) == {rid}


def test_files_that_are_not_segment_copies_stay(
        capsys: pytest.CaptureFixture[str], project: Path, tmp_path: Path) -> None:
    path = make_output(project, "a.png", seed=8)
    run_json(capsys, "-C", project, "add", path)
    nas = tmp_path / "nas"
    nas.mkdir()
    run(capsys, "-C", project, "remote", "add", "origin", nas)
    run_json(capsys, "-C", project, "push")
    folder = _old_layout(project, nas)
    (folder / "segments" / "notes.txt").write_text("mine")

    run_json(capsys, "-C", project, "push")
    assert [p.name for p in (folder / "segments").iterdir()] == ["notes.txt"]
