"""The core loop end to end through the CLI: init, add, verify, checkout, diff, log."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from repro.api.repository import Repository
from repro.demo import model_bytes, write_safetensors
from repro.objects.hashing import hash_file
from tests.helpers import make_output, run, run_json


def test_add_records_models_by_content(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    img = make_output(project, "a.png", seed=7)
    result = run_json(capsys, "-C", project, "add", img)
    [rec] = result["records"]
    assert rec["tool"] == "comfyui"
    assert rec["level"] == "full", rec["reasons"]
    shown = run_json(capsys, "-C", project, "show", rec["id"][:8])
    models = {m["role"]: m for m in shown["models"]}
    assert models["checkpoint"]["blake3"] == hash_file(project / "models/checkpoints/base.safetensors")
    assert models["lora"]["path"] == "models/loras/style.safetensors"
    assert models["lora"]["strength"] == 0.8
    assert shown["output"]["blake3"] == hash_file(img)
    repo = Repository.discover(project)
    assert models["checkpoint"]["blake3"] in repo.store
    assert shown["params"]["seed"] == 7
    # The verbatim metadata is kept.
    blob = repo.store.read_bytes(shown["source"]["blobs"]["prompt"])
    assert orjson.loads(blob)["3"]["inputs"]["seed"] == 7


def test_adding_the_same_bytes_twice_returns_the_existing_record(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    img = make_output(project, "a.png", seed=7)
    first = run_json(capsys, "-C", project, "add", img)["records"][0]
    copy = project / "outputs" / "copy.png"
    shutil.copy(img, copy)
    second = run_json(capsys, "-C", project, "add", copy)["records"][0]
    assert second["id"] == first["id"]
    assert second["existing"] is True
    assert len(run_json(capsys, "-C", project, "log")) == 1


def test_replaced_checkpoint_then_checkout(project: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    img = make_output(project, "a.png", seed=7)
    run_json(capsys, "-C", project, "add", img)
    ckpt = project / "models/checkpoints/base.safetensors"
    recorded = hash_file(ckpt)
    write_safetensors(ckpt, model_bytes(99, 300_000))  # new version, same name

    code, out, _ = run(capsys, "-C", project, "verify", img, "--json")
    assert code == 1
    v = orjson.loads(out)
    assert v["level"] == "full"
    assert v["ready"] is False
    status = {m["role"]: m for m in v["models"]}
    assert status["checkpoint"]["status"] == "changed"
    assert status["checkpoint"]["in_store"] is True
    assert status["lora"]["status"] == "ok"
    assert any("repro checkout" in r for r in v["reasons"])

    new_version = hash_file(ckpt)
    code, _, err = run(capsys, "-C", project, "checkout", img)
    assert code == 5 and "error:" in err and "Traceback" not in err
    assert hash_file(ckpt) == new_version  # nothing overwritten without --force

    result = run_json(capsys, "-C", project, "checkout", img, "--force")
    assert [r["path"] for r in result["restored"]] == ["models/checkpoints/base.safetensors"]
    assert hash_file(ckpt) == recorded
    # The displaced new version was stored first: nothing is lost.
    repo = Repository.discover(project)
    assert new_version in repo.store
    assert result["displaced"][0]["blake3"] == new_version

    v = run_json(capsys, "-C", project, "verify", img)
    assert v["ready"] is True
    assert [m["status"] for m in v["models"]] == ["ok", "ok"]


def test_renamed_lora_is_reported_moved(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    img = make_output(project, "a.png", seed=7)
    run_json(capsys, "-C", project, "add", img)
    lora = project / "models/loras/style.safetensors"
    lora.rename(project / "models/loras/style_v1_final.safetensors")
    code, out, _ = run(capsys, "-C", project, "verify", img, "--json")
    v = orjson.loads(out)
    status = {m["role"]: m for m in v["models"]}
    assert status["lora"]["status"] == "moved"
    assert status["lora"]["path"] == "models/loras/style_v1_final.safetensors"
    assert code == 1


def test_diff_reports_exactly_seed_and_lora_strength(project: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    a = make_output(project, "a.png", seed=7, strength=0.8)
    b = make_output(project, "b.png", seed=8, strength=0.6)
    run_json(capsys, "-C", project, "add", a, b)
    d = run_json(capsys, "-C", project, "diff", a, b)
    assert d["params"] == {"changed": {"seed": [7, 8]}, "added": {}, "removed": {}}
    assert not any(d["prompt"].values()) and not any(d["negative_prompt"].values())
    assert d["models"]["changed"] == [] and d["models"]["renamed"] == []
    assert d["models"]["added"] == [] and d["models"]["removed"] == []
    assert {(s["field"], s["a"], s["b"]) for s in d["models"]["strength"]} == {
        ("strength", 0.8, 0.6), ("strength_clip", 0.8, 0.6)}
    assert not any(d["inputs"].values()) and not any(d["tool"].values())
    assert not any(d["environment"].values())


def test_big_and_string_seeds_round_trip(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    img = make_output(project, "max.png", seed=2**64 - 1)
    rec = run_json(capsys, "-C", project, "add", img)["records"][0]
    shown = run_json(capsys, "-C", project, "show", rec["id"])
    assert shown["params"]["seed"] == 2**64 - 1
    assert isinstance(shown["params"]["seed"], int)
    repo = Repository.discover(project)
    assert repo.load_record(rec["id"]).params.get("seed") == 18446744073709551615


def test_fooocus_string_seed_round_trips(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    params = {"prompt": "a goldfish", "negative_prompt": "", "seed": "6952411511246973023",
              "steps": 30, "guidance_scale": 4.0, "sampler": "dpmpp_2m_sde_gpu",
              "scheduler": "karras", "resolution": "(768, 1280)",
              "base_model": "base", "base_model_hash": "aeb7e9e689", "loras": [],
              "metadata_scheme": "fooocus", "version": "Fooocus v2.1.865"}
    info = PngInfo()
    info.add_text("parameters", orjson.dumps(params).decode())
    info.add_text("fooocus_scheme", "fooocus")
    img = project / "outputs" / "fooocus.png"
    img.parent.mkdir(exist_ok=True)
    Image.new("RGB", (8, 8)).save(img, pnginfo=info)
    rec = run_json(capsys, "-C", project, "add", img)["records"][0]
    shown = run_json(capsys, "-C", project, "show", rec["id"])
    assert shown["params"]["seed"] == 6952411511246973023


def test_log_lists_newest_first_and_follows_parents(project: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    a = make_output(project, "a.png", seed=1)
    ra = run_json(capsys, "-C", project, "add", a)["records"][0]
    b = make_output(project, "b.png", seed=2)
    rb = run_json(capsys, "-C", project, "add", b, "--parent", ra["id"][:10])["records"][0]
    everything = run_json(capsys, "-C", project, "log")
    assert [r["id"] for r in everything] == [rb["id"], ra["id"]]
    chain = run_json(capsys, "-C", project, "log", b)
    assert [r["id"] for r in chain] == [rb["id"], ra["id"]]
    code, out, _ = run(capsys, "-C", project, "log", b, "--graph")
    assert code == 0 and "b.png" in out and "a.png" in out and "*" in out


def test_index_is_derived(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = make_output(project, "a.png", seed=1)
    rec = run_json(capsys, "-C", project, "add", a)["records"][0]
    for suffix in ("", "-wal", "-shm"):
        p = project / ".repro" / f"index.sqlite{suffix}"
        if p.exists():
            p.unlink()
    assert run_json(capsys, "-C", project, "show", a)["id"] == rec["id"]
    assert run_json(capsys, "-C", project, "fsck")["problems"] == []


def test_models_and_uses(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = make_output(project, "a.png", seed=1)
    b = make_output(project, "b.png", seed=2, lora=None)
    run_json(capsys, "-C", project, "add", a, b)
    models = run_json(capsys, "-C", project, "models")
    assert sorted(m["uses"] for m in models) == [1, 2]
    lora_users = run_json(capsys, "-C", project, "uses", "models/loras/style.safetensors")
    assert [r["output"]["path"] for r in lora_users] == ["outputs/a.png"]
    by_name = run_json(capsys, "-C", project, "uses", "base.safetensors")
    assert len(by_name) == 2


def test_tag_names_a_record(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = make_output(project, "a.png", seed=1)
    rec = run_json(capsys, "-C", project, "add", a, "--tag", "client-final")["records"][0]
    assert run_json(capsys, "-C", project, "show", "client-final")["id"] == rec["id"]


def test_unknown_target_is_a_clear_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(capsys, "-C", project, "show", "nothing-here")
    assert code == 3
    assert err.startswith("error: ") and "hint: " in err
    assert "Traceback" not in err


def test_outside_a_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "-C", tmp_path, "log")
    assert code == 3 and "repro init" in err
