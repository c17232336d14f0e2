"""A record is not fixed forever at its first capture: a new capture of the same
output supersedes it when it knows more, when a message is given, or when asked
(issue 16 item 1); the old record stays in the store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from repro.api.repository import Repository
from repro.demo import a1111_parameters, model_bytes, write_a1111_png, write_safetensors
from repro.objects.hashing import hash_file
from tests.helpers import make_output, run, run_json

Capsys = pytest.CaptureFixture[str]


def test_a_model_put_in_place_later_refreshes_the_record(project: Path, capsys: Capsys) -> None:
    lora = project / "models/loras/style.safetensors"
    aside = project / "style.aside"
    shutil.move(lora, aside)
    img = make_output(project, "a.png", seed=7)
    [first] = run_json(capsys, "-C", project, "add", img)["records"]
    assert first["level"] == "approximate" and first["state"] == "added"

    # Nothing changed: the same answer, no new record.
    [again] = run_json(capsys, "-C", project, "add", img)["records"]
    assert again["id"] == first["id"] and again["state"] == "known"

    shutil.move(aside, lora)  # the hint's advice: put the file under a model root
    code, out, _ = run(capsys, "-C", project, "add", img)
    assert code == 0 and out.startswith("refreshed ") and "supersedes" in out
    [now] = run_json(capsys, "-C", project, "add", img)["records"]
    assert now["state"] == "known" and now["id"] != first["id"]
    # Moved in after the output was written (its ctime says so): found by content now,
    # but which bytes made the output is not known, so not full (issue 12 item 11).
    assert now["level"] == "approximate" and now["codes"] == ["model.modified-after-output"]

    shown = run_json(capsys, "-C", project, "show", img)
    assert shown["id"] == now["id"] and shown["supersedes"] == first["id"]
    assert {m["role"]: m["blake3"] for m in shown["models"]}["lora"] == hash_file(lora)
    # The old record is history, not lost.
    old = run_json(capsys, "-C", project, "show", first["id"])
    assert old["reproducibility"]["level"] == "approximate"
    assert len(run_json(capsys, "-C", project, "log")) == 2
    code, out, _ = run(capsys, "-C", project, "verify", img, "--json")
    assert code == 0
    code, _, _ = run(capsys, "-C", project, "fsck")
    assert code == 0


def test_refresh_and_message_make_a_new_record(project: Path, capsys: Capsys) -> None:
    img = make_output(project, "a.png", seed=7)
    [first] = run_json(capsys, "-C", project, "add", img)["records"]
    assert first["level"] == "full"
    [same] = run_json(capsys, "-C", project, "add", img, "-m", "")["records"]
    assert same["state"] == "known"
    [noted] = run_json(capsys, "-C", project, "add", img, "-m", "approved by the client")["records"]
    assert noted["state"] == "refreshed" and noted["supersedes"] == first["id"]
    assert run_json(capsys, "-C", project, "show", img)["message"] == "approved by the client"
    [forced] = run_json(capsys, "-C", project, "add", img, "--refresh")["records"]
    assert forced["state"] == "refreshed" and forced["supersedes"] == noted["id"]
    # The message is carried over when a refresh gives none.
    assert run_json(capsys, "-C", project, "show", img)["message"] == "approved by the client"
    repo = Repository.discover(project)
    assert repo.index.record_for_output(hash_file(img)) == forced["id"]


def test_a_file_with_the_name_but_not_the_recorded_hash_is_not_that_model(
        tmp_path: Path, capsys: Capsys) -> None:
    """A1111 recorded a hash; the only file with that name under the roots (in
    another folder than expected) has other bytes: it is another version, never
    taken for the one used."""
    root = tmp_path / "p"
    write_safetensors(root / "models/elsewhere/dream.safetensors", model_bytes(5, 1000))
    img = write_a1111_png(root / "outputs/a.png", a1111_parameters(
        prompt="a fox", negative="", seed=1, model="dream", model_hash="0123456789"),
        pixel_seed=1)
    assert run(capsys, "-C", root, "init")[0] == 0
    [rec] = run_json(capsys, "-C", root, "add", img, "--no-env")["records"]
    assert rec["level"] == "approximate"
    assert "model.mismatch" in rec["codes"]
    shown = run_json(capsys, "-C", root, "show", img)
    [ckpt] = shown["models"]
    assert "blake3" not in ckpt and ckpt["recorded"] == {"sha256": "0123456789"}


def test_a_recorded_hash_proves_the_version_whatever_the_mtime(tmp_path: Path,
                                                             capsys: Capsys) -> None:
    root = tmp_path / "p"
    ckpt = write_safetensors(root / "models/Stable-diffusion/dream.safetensors",
                             model_bytes(5, 1000))
    from repro.models.hashes import compute_hashes

    autov2 = compute_hashes(ckpt, {"sha256"})["sha256"][:10]
    img = write_a1111_png(root / "outputs/a.png", a1111_parameters(
        prompt="a fox", negative="", seed=1, model="dream", model_hash=autov2), pixel_seed=1)
    ckpt.touch()  # the model file is newer than the output
    assert run(capsys, "-C", root, "init")[0] == 0
    [rec] = run_json(capsys, "-C", root, "add", img, "--no-env")["records"]
    assert rec["level"] == "full", rec["reasons"]
    shown = run_json(capsys, "-C", root, "show", img)
    [model] = shown["models"]
    # What the file recorded is kept as written, apart from what repro computed.
    assert model["recorded"] == {"sha256": autov2}
    assert len(model["hashes"]["sha256"]) == 64 and model["hashes"]["blake3"] == hash_file(ckpt)
