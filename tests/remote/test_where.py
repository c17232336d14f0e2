"""`verify` (and `diff --now`) say where each recorded model version is: local,
on a remote (as its index said at the last sync), or nowhere; from the local copy
of the remote's index, so an unreachable remote changes nothing. Against a folder
and against SeaweedFS."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from repro.api.repository import Repository
from tests.helpers import make_output, run, run_json


def _pushed(capsys: pytest.CaptureFixture[str], project: Path, url: tuple[str, list[str]],
            *push: str) -> str:
    path = make_output(project, "fox.png", seed=7)
    rid: str = run_json(capsys, "-C", project, "add", path)["records"][0]["id"]
    assert run(capsys, "-C", project, "remote", "add", "origin", url[0], *url[1])[0] == 0
    run_json(capsys, "-C", project, "push", *push)
    return rid


def _unreachable(url: tuple[str, list[str]], clone: Path) -> None:
    """Take the remote away: the folder is gone, the S3 endpoint points at a closed port."""
    if not url[1]:
        shutil.rmtree(url[0])
        return
    remotes = clone / ".repro/remotes.json"
    remotes.write_text(remotes.read_text().replace(url[1][1], "http://127.0.0.1:9"))


def test_a_clone_without_models_says_they_are_on_the_remote(
        capsys: pytest.CaptureFixture[str], project: Path, tmp_path: Path,
        remote_url: tuple[str, list[str]]) -> None:
    url = remote_url
    rid = _pushed(capsys, project, url)
    laptop = tmp_path / "laptop"
    run_json(capsys, "clone", url[0], laptop, *url[1], "--no-models")
    _unreachable(url, laptop)  # verify never asks the remote

    code, out, err = run(capsys, "-C", laptop, "verify", rid, "--json")
    assert code == 1, err
    result = orjson.loads(out)
    assert result["ready"] is False and result["level"] == "full"
    for m in result["models"]:
        assert (m["status"], m["in_store"]) == ("missing", False)
        assert (m["location"], m["remotes"]) == ("remote", ["origin"])
    assert set(result["codes"]) >= {"model.missing-on-remote"}
    assert "model.missing-not-in-store" not in result["codes"]
    assert any("remote origin has it (as of last sync)" in r for r in result["reasons"])

    code, out, _ = run(capsys, "-C", laptop, "verify", rid)
    assert code == 1 and "on remote origin as of last sync" in out
    now = run_json(capsys, "-C", laptop, "diff", rid, "--now")
    assert {m["location"] for m in now["models"]} == {"remote"}


def test_checkout_then_verify_says_local(capsys: pytest.CaptureFixture[str], project: Path,
                                         tmp_path: Path, remote_url: tuple[str, list[str]]) -> None:
    url = remote_url
    rid = _pushed(capsys, project, url)
    laptop = tmp_path / "laptop"
    run_json(capsys, "clone", url[0], laptop, *url[1], "--no-models")
    (laptop / "models/checkpoints").mkdir(parents=True)
    (laptop / "models/loras").mkdir(parents=True)
    planned = run_json(capsys, "-C", laptop, "checkout", rid, "--dry-run")
    assert [e["from_remote"] for e in planned["restored"]] == ["origin", "origin"]
    assert planned["fetched"] == [] and planned["unavailable"] == []
    assert not (laptop / "models/loras/style.safetensors").exists()
    code, out, _ = run(capsys, "-C", laptop, "checkout", rid)
    assert code == 0 and out.count("fetched ") == 2 and "(its BLAKE3 checked)" in out
    done = run_json(capsys, "-C", laptop, "verify", rid)
    assert done["ready"] is True
    assert {(m["location"], m["in_store"]) for m in done["models"]} == {("local", True)}


def test_a_version_on_no_remote_is_nowhere_and_not_restorable(
        capsys: pytest.CaptureFixture[str], project: Path, tmp_path: Path,
        remote_url: tuple[str, list[str]]) -> None:
    url = remote_url
    rid = _pushed(capsys, project, url, "--no-models")
    laptop = tmp_path / "laptop"
    run_json(capsys, "clone", url[0], laptop, *url[1])
    code, out, _ = run(capsys, "-C", laptop, "verify", rid, "--json")
    result = orjson.loads(out)
    assert code == 1 and result["level"] == "approximate"
    assert {(m["location"], tuple(m["remotes"])) for m in result["models"]} == {("nowhere", ())}
    assert "model.missing-not-in-store" in result["codes"]
    assert any("nor on any remote (as of last sync)" in r for r in result["reasons"])
    code, out, _ = run(capsys, "-C", laptop, "verify", rid)
    assert "(not in store) nor on any remote" in out


def test_a_dropped_version_that_was_pushed_is_on_the_remote(
        capsys: pytest.CaptureFixture[str], project: Path, remote_url: tuple[str, list[str]]) -> None:
    url = remote_url
    rid = _pushed(capsys, project, url)
    repo = Repository.discover(project)
    lora = next(m for m in repo.load_record(rid).models if m.role == "lora")
    run_json(capsys, "-C", project, "store", "drop", lora.blake3)
    (project / "models/loras/style.safetensors").unlink()
    code, out, _ = run(capsys, "-C", project, "verify", rid, "--json")
    result = orjson.loads(out)
    assert code == 1 and "model.missing-on-remote" in result["codes"]
    [m] = [m for m in result["models"] if m["role"] == "lora"]
    assert (m["status"], m["location"], m["remotes"]) == ("missing", "remote", ["origin"])
    [other] = [m for m in result["models"] if m["role"] != "lora"]
    assert (other["location"], other["remotes"]) == ("local", [])


def test_an_input_gone_from_disk_and_store_is_fetched_from_the_remote(
        capsys: pytest.CaptureFixture[str], project: Path,
        remote_url: tuple[str, list[str]]) -> None:
    from repro.demo import write_comfy_png
    from tests.helpers import img2img_graph

    source = make_output(project, "source.png", seed=1)
    (project / "input").mkdir()
    shutil.copy(source, project / "input" / "source.png")
    graph = img2img_graph(load_image="source.png", denoise=0.5, ckpt="base.safetensors",
                          lora=None, lora_strength=0.8, seed=7, prompt="a fox")
    derived = write_comfy_png(project / "outputs" / "derived.png", graph, pixel_seed=7)
    rid = run_json(capsys, "-C", project, "add", derived)["records"][0]["id"]
    assert run(capsys, "-C", project, "remote", "add", "origin", remote_url[0],
               *remote_url[1])[0] == 0
    run_json(capsys, "-C", project, "push")
    repo = Repository.discover(project)
    [source_id] = [i.blake3 for i in repo.load_record(rid).inputs]
    stored = repo.store.path(source_id)
    stored.chmod(0o644)
    stored.unlink()  # lost here (a damaged disk, say), kept on the remote
    (project / "input" / "source.png").unlink()

    code, out, _ = run(capsys, "-C", project, "verify", rid, "--json")
    result = orjson.loads(out)
    assert code == 1 and result["codes"] == ["input.gone"]
    assert "remote origin has it (as of last sync): run `repro checkout --inputs`" \
        in result["reasons"][0]
    done = run_json(capsys, "-C", project, "checkout", rid, "--inputs")
    assert done["fetched"] == [source_id]
    assert run_json(capsys, "-C", project, "verify", rid)["ready"] is True
