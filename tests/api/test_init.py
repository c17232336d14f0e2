"""``repro init`` makes the index, so that the first ``add`` does not pay for it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from repro.api.repository import Repository
from tests.helpers import make_output, run, run_json


def test_init_creates_the_index_with_its_tables(project: Path) -> None:
    index = project / ".repro" / "index.sqlite"
    assert index.is_file()
    conn = sqlite3.connect(index)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()
    assert {"records", "meta"} <= tables


def test_an_index_deleted_after_init_is_rebuilt_by_the_next_command(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rid = run_json(capsys, "-C", project, "add", make_output(project, "a.png", seed=3)
                   )["records"][0]["id"]
    (project / ".repro" / "index.sqlite").unlink()
    code, out, _ = run(capsys, "-C", project, "show", rid[:10])
    assert code == 0 and rid[:12] in out
    repo = Repository.discover(project)
    try:
        assert repo.index.count() == 1
    finally:
        repo.close()
