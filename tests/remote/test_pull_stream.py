"""A pull reads packs as streams: only the stretch of a pack that holds what it
wants, each object checked as it arrives; against a folder and SeaweedFS."""

from __future__ import annotations

from pathlib import Path

import pytest

from repro.api.repository import Repository
from repro.remote.transfer import record_objects
from tests.helpers import make_output, run, run_json


def test_a_pull_of_one_record_reads_only_its_stretch_of_the_packs(
        capsys: pytest.CaptureFixture[str], project: Path, tmp_path: Path,
        remote_url: tuple[str, list[str]]) -> None:
    paths = [make_output(project, f"img_{i}.png", seed=300 + i) for i in range(6)]
    ids = [r["id"] for r in run_json(capsys, "-C", project, "add", *paths)["records"]]
    run(capsys, "-C", project, "remote", "add", "origin", remote_url[0], *remote_url[1])
    pushed = run_json(capsys, "-C", project, "push", "--no-models")
    assert pushed["packs"] == 2  # the records' pack, and one of their outputs and blobs

    laptop = tmp_path / "laptop"
    assert run(capsys, "init", laptop)[0] == 0
    run(capsys, "-C", laptop, "remote", "add", "origin", remote_url[0], *remote_url[1])
    one = run_json(capsys, "-C", laptop, "pull", "origin", ids[2], "--no-models")
    theirs = Repository.discover(laptop)
    wanted = [ids[2], *record_objects(theirs.load_record(ids[2]), models=False)]
    for oid in wanted:
        theirs.store.check(oid)
    assert one["records"] == [ids[2]] and one["objects"] >= len(wanted)
    # what it wants lies together in each pack: about a sixth of the bytes came
    assert one["bytes"] < pushed["bytes"] / 3

    rest = run_json(capsys, "-C", laptop, "pull", "--no-models")
    assert sorted(rest["records"]) == sorted(set(ids) - {ids[2]})
    assert set(Repository.discover(laptop).index.iter_ids()) == set(ids)
