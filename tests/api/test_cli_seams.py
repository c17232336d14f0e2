"""API verbs that took over decisions the CLI used to make."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import orjson
import pytest

from repro.api.add import add
from repro.api.env import env
from repro.api.environment_now import capture_environment
from repro.api.maintenance import check_repository
from repro.api.query import graph
from repro.api.repository import Repository
from repro.api.verify import verify_records
from repro.objects.atomic import TMP_PREFIX
from tests.helpers import make_output


@pytest.fixture
def repo(project: Path) -> Repository:
    repo = Repository.discover(project)
    add(repo, [make_output(project, "a.png", seed=1), make_output(project, "b.png", seed=2)])
    return repo


def test_verify_records_defaults_to_every_record(repo: Repository) -> None:
    results = verify_records(repo)
    assert [rec.id for rec, _ in results] == [r.id for _, r in results]
    assert len(results) == 2 and all(r.ready for _, r in results)
    [(one, result)] = verify_records(repo, [results[0][0]])
    assert result.id == one.id


def test_graph_writes_its_output_atomically_and_readable(repo: Repository,
                                                         project: Path) -> None:
    dest = project / "lineage.json"
    text = graph(repo, None, format="json", output=dest)
    assert dest.read_text() == text
    assert len(orjson.loads(text)["nodes"]) >= 2
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o666 & ~umask
    assert not [p for p in project.iterdir() if p.name.startswith(TMP_PREFIX)]
    assert graph(repo, None) == graph(repo, None, format="dot")


def test_check_repository_ok_and_rebuild(repo: Repository) -> None:
    result = check_repository(repo)
    assert result.ok and result.problems == []
    assert result.to_dict() == {"problems": [], "repaired": []}
    assert check_repository(repo, rebuild_index=True).to_dict() == {"problems": [],
                                                                    "rebuilt": 2}
    (repo.dot / "tmp" / "leftover").write_bytes(b"x")
    assert check_repository(repo).ok  # a leftover temp file is not a problem to fail on


def test_capture_environment_follows_no_env_and_the_config(project: Path) -> None:
    repo = Repository.discover(project)
    assert capture_environment(repo.config, no_env=True) is None
    per_tool = capture_environment(repo.config)
    assert per_tool is not None and (per_tool("comfyui") or {}).get("python")
    off = Repository.discover(project, overrides={"capture": {"environment": False}})
    assert capture_environment(off.config) is None


def test_env_needs_no_repository(tmp_path: Path) -> None:
    assert env(tmp_path).get("python")
