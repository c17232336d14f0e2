"""push, pull and clone end to end: set up through the API, act through the CLI,
assert through the API and exit codes; against a folder and against SeaweedFS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from repro.api.repository import Repository
from tests.helpers import make_output, run, run_json


def _capture(capsys: pytest.CaptureFixture[str], root: Path, n: int, first: int = 0) -> list[str]:
    paths = [make_output(root, f"img_{i:05d}.png", seed=1000 + i) for i in range(first, first + n)]
    out = run_json(capsys, "-C", root, "add", *paths)
    return [r["id"] for r in out["records"]]


def _nas_origin(capsys: pytest.CaptureFixture[str], project: Path, tmp_path: Path) -> Path:
    """A folder remote ``origin`` for ``project``, as a mounted NAS share."""
    nas = tmp_path / "nas"
    nas.mkdir()
    run(capsys, "-C", project, "remote", "add", "origin", nas)
    return nas


def test_push_then_clone_gives_the_same_records_and_models(
        capsys: pytest.CaptureFixture[str], project: Path, tmp_path: Path,
        remote_url: tuple[str, list[str]]) -> None:
    ids = _capture(capsys, project, 3)
    assert run(capsys, "-C", project, "remote", "add", "origin", remote_url[0], *remote_url[1])[0] == 0
    assert run(capsys, "-C", project, "tag", "final", ids[0])[0] == 0
    pushed = run_json(capsys, "-C", project, "push")
    assert sorted(pushed["records"]) == sorted(ids)
    assert pushed["packs"] >= 1 and pushed["tags"][0]["name"] == "final"
    again = run_json(capsys, "-C", project, "push")
    assert again["records"] == [] and again["objects"] == 0  # only what is missing moves

    other = tmp_path / "laptop"
    cloned = run_json(capsys, "clone", remote_url[0], other, *remote_url[1])
    assert sorted(cloned["records"]) == sorted(ids)
    mine, theirs = Repository.discover(project), Repository.discover(other)
    assert set(theirs.index.iter_ids()) == set(ids)
    assert theirs.refs.get_tag("final") == ids[0]
    for rid in ids:  # every object the record names came across, byte for byte
        record = mine.load_record(rid)
        for oid in [record.output.blake3, *(m.blake3 for m in record.models if m.blake3)]:
            theirs.store.check(oid)
    # the clone can show and verify what it pulled
    assert run(capsys, "-C", other, "show", ids[1])[0] == 0


def test_incremental_push_and_pull(capsys: pytest.CaptureFixture[str], project: Path,
                                   tmp_path: Path, remote_url: tuple[str, list[str]]) -> None:
    first = _capture(capsys, project, 2)
    run(capsys, "-C", project, "remote", "add", "origin", remote_url[0], *remote_url[1])
    run_json(capsys, "-C", project, "push")
    other = tmp_path / "laptop"
    run_json(capsys, "clone", remote_url[0], other, *remote_url[1])
    second = _capture(capsys, project, 2, first=10)
    pushed = run_json(capsys, "-C", project, "push", "origin", "--no-models")
    assert sorted(pushed["records"]) == sorted(second)
    pulled = run_json(capsys, "-C", other, "pull", "origin", second[0][:10])
    assert pulled["records"] == [second[0]]
    assert set(Repository.discover(other).index.iter_ids()) == {*first, second[0]}


def test_a_moved_tag_is_refused_on_the_second_push(
        capsys: pytest.CaptureFixture[str], project: Path, tmp_path: Path,
        remote_url: tuple[str, list[str]]) -> None:
    ids = _capture(capsys, project, 2)
    run(capsys, "-C", project, "remote", "add", "origin", remote_url[0], *remote_url[1])
    run_json(capsys, "-C", project, "push")
    other = tmp_path / "laptop"
    run_json(capsys, "clone", remote_url[0], other, *remote_url[1])
    run(capsys, "-C", project, "tag", "final", ids[0])
    run(capsys, "-C", other, "tag", "final", ids[1])
    assert run(capsys, "-C", project, "push")[0] == 0
    code, _, err = run(capsys, "-C", other, "push")
    assert code == 5
    assert "tag 'final' on the remote was moved by someone else" in err and "hint:" in err
    assert Repository.discover(project).refs.get_tag("final") == ids[0]
    # moving on purpose, after seeing it, is fine
    assert run(capsys, "-C", other, "push", "--force-tags")[0] == 0


def test_wrong_bytes_from_the_remote_are_refused(
        capsys: pytest.CaptureFixture[str], project: Path, tmp_path: Path) -> None:
    ids = _capture(capsys, project, 1)
    nas = _nas_origin(capsys, project, tmp_path)
    run_json(capsys, "-C", project, "push")
    for pack in (nas / "packs").iterdir():
        data = bytearray(pack.read_bytes())
        data[len(data) // 2] ^= 0xFF
        pack.chmod(0o644)
        pack.write_bytes(bytes(data))
    code, _, err = run(capsys, "clone", nas, tmp_path / "laptop")
    assert code == 11 and "wrong bytes" in err
    repo = Repository.discover(tmp_path / "laptop")
    assert list(repo.store) == [] and ids[0] not in repo.store


def test_remote_names_and_urls_are_checked(capsys: pytest.CaptureFixture[str],
                                           project: Path) -> None:
    assert run(capsys, "-C", project, "remote", "add", "../x", "/tmp/x")[0] == 2
    assert run(capsys, "-C", project, "remote", "add", "x", "/mnt/../etc")[0] == 5
    assert run(capsys, "-C", project, "remote", "add", "x", "s3://b/../../x")[0] == 5
    assert run(capsys, "-C", project, "remote", "add", "x", "ftp://host/x")[0] == 2
    assert run(capsys, "-C", project, "remote", "add", "s", "s3://bucket/p",
               "--endpoint", "http://h:1", "--region", "eu-1")[0] == 0
    listed = run_json(capsys, "-C", project, "remote", "list")
    assert listed == [{"name": "s", "url": "s3://bucket/p", "endpoint": "http://h:1",
                       "region": "eu-1"}]
    stored = orjson.loads((project / ".repro/remotes.json").read_bytes())
    assert "secret" not in str(stored).lower() and "key" not in str(stored).lower()
    assert run(capsys, "-C", project, "remote", "remove", "s")[0] == 0
    assert run_json(capsys, "-C", project, "remote", "list") == []


def test_models_left_behind_by_no_models_go_with_the_next_push(
        capsys: pytest.CaptureFixture[str], project: Path, tmp_path: Path) -> None:
    ids = _capture(capsys, project, 1)
    _nas_origin(capsys, project, tmp_path)
    first = run_json(capsys, "-C", project, "push", "--no-models")
    assert first["records"] == ids and first["large"] == 0
    second = run_json(capsys, "-C", project, "push")
    assert second["records"] == ids and second["objects"] == 2  # the checkpoint and the LoRA
    assert run_json(capsys, "-C", project, "push")["objects"] == 0


def test_checkout_fetches_a_model_version_from_the_remote(
        capsys: pytest.CaptureFixture[str], project: Path, tmp_path: Path) -> None:
    ids = _capture(capsys, project, 1)
    nas = _nas_origin(capsys, project, tmp_path)
    run_json(capsys, "-C", project, "push")
    other = tmp_path / "laptop"
    run_json(capsys, "clone", nas, other, "--no-models")
    theirs = Repository.discover(other)
    model = next(m.blake3 for m in theirs.load_record(ids[0]).models if m.blake3)
    assert model not in theirs.store
    done = run_json(capsys, "-C", other, "checkout", ids[0])
    assert model in done["fetched"] and done["restored"]
    theirs.store.check(model)


def test_a_clone_indexes_what_it_pulls_once(
        capsys: pytest.CaptureFixture[str], project: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, remote_url: tuple[str, list[str]]) -> None:
    ids = _capture(capsys, project, 3)
    run(capsys, "-C", project, "remote", "add", "origin", remote_url[0], *remote_url[1])
    run_json(capsys, "-C", project, "push")
    rebuilt: list[int] = []
    rebuild = Repository._rebuild

    def counted(self: Repository, index: Any) -> int:
        rebuilt.append(rebuild(self, index))
        return rebuilt[-1]

    monkeypatch.setattr(Repository, "_rebuild", counted)
    run_json(capsys, "clone", remote_url[0], tmp_path / "laptop", *remote_url[1])
    # the new index was made empty, then given the pulled records: none read back
    assert sum(rebuilt) == 0
    assert set(Repository.discover(tmp_path / "laptop").index.iter_ids()) == set(ids)
