"""Storage is not silent: `add` says what it stores (and `--dry-run` what it would),
`repro store` shows the store by model and version, `store drop` removes chosen
versions on purpose and records then say `not in store`."""

from __future__ import annotations

from pathlib import Path

import pytest

from repro.api.repository import Repository
from repro.demo import model_bytes, write_safetensors
from tests.helpers import make_output, run, run_json


def test_add_says_what_it_stores_and_how_much(project: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    fox = make_output(project, "fox.png", seed=1)
    code, out, _ = run(capsys, "-C", project, "add", fox)
    assert code == 0
    assert "stored base.safetensors (" in out and "copied" in out
    assert "stored style.safetensors (" in out
    assert "store: +" in out and "2 model version(s), 1 output(s)" in out
    data = run_json(capsys, "-C", project, "add", make_output(project, "owl.png", seed=2))
    assert data["stored"]["models"] == []  # both versions are in the store already
    assert data["stored"]["outputs"] == 1
    assert data["stored"]["output_bytes"] == (project / "outputs/owl.png").stat().st_size


def test_hardlink_mode_stores_no_second_copy(project: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "-C", project, "add", "--mode", "hardlink",
                    make_output(project, "fox.png", seed=1))
    assert {m["mode"] for m in data["stored"]["models"]} == {"hardlink"}
    assert data["stored"]["model_bytes"] == 0
    view = run_json(capsys, "-C", project, "store")
    assert view["linked_bytes"] == view["model_bytes"] > 0


def test_add_dry_run_writes_nothing(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fox = make_output(project, "fox.png", seed=1)
    (project / "outputs" / "notes.txt").write_text("hello")
    before = sorted(p.name for p in (project / ".repro/objects").rglob("*"))
    plan = run_json(capsys, "-C", project, "add", project / "outputs", "--dry-run")
    assert [Path(c["path"]).name for c in plan["capture"]] == ["fox.png"]
    assert [Path(s["path"]).name for s in plan["skipped"]] == ["notes.txt"]
    assert {m["name"] for m in plan["models"]} == {"base.safetensors", "style.safetensors"}
    size = sum((project / m["path"]).stat().st_size for m in plan["models"])
    assert plan["model_bytes"] == size
    assert sorted(p.name for p in (project / ".repro/objects").rglob("*")) == before
    assert run_json(capsys, "-C", project, "log") == []
    code, out, _ = run(capsys, "-C", project, "add", fox, "--dry-run")
    assert code == 0 and "would capture outputs/fox.png" in out and "would store" in out
    run_json(capsys, "-C", project, "add", fox)
    plan = run_json(capsys, "-C", project, "add", fox, "--dry-run")
    assert plan["known"] == [str(fox)] and plan["models"] == []


def test_the_store_by_model_and_version_and_dropping_old_versions(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = run_json(capsys, "-C", project, "add",
                     make_output(project, "a.png", seed=1))["records"][0]["id"]
    write_safetensors(project / "models/checkpoints/base.safetensors", model_bytes(9, 300_000))
    second = run_json(capsys, "-C", project, "add",
                      make_output(project, "b.png", seed=2))["records"][0]["id"]
    view = run_json(capsys, "-C", project, "store")
    base = next(m for m in view["models"] if m["name"] == "base.safetensors")
    assert len(base["versions"]) == 2 and all(v["in_store"] for v in base["versions"])
    assert view["bytes"] >= view["model_bytes"] > 0
    code, out, _ = run(capsys, "-C", project, "store")
    assert code == 0 and "base.safetensors" in out and "in store" in out

    result = run_json(capsys, "-C", project, "store", "drop", "base.safetensors",
                      "--old-only", "--dry-run")
    assert len(result["dropped"]) == 1 and len(result["kept"]) == 1
    old = result["dropped"][0]["blake3"]
    result = run_json(capsys, "-C", project, "store", "drop", "base.safetensors", "--old-only")
    assert [d["blake3"] for d in result["dropped"]] == [old]
    assert result["bytes"] > 0
    repo = Repository.discover(project)
    assert old not in repo.store

    code, out, _ = run(capsys, "-C", project, "verify", first)
    assert code == 1 and "(not in store)" in out
    assert run(capsys, "-C", project, "verify", second)[0] == 0
    checkout = run_json(capsys, "-C", project, "checkout", first, "--dry-run")
    assert [u["name"] for u in checkout["unavailable"]] == ["base.safetensors"]
    view = run_json(capsys, "-C", project, "store")
    base = next(m for m in view["models"] if m["name"] == "base.safetensors")
    assert {v["blake3"]: v["dropped"] for v in base["versions"]}[old] is True
    # dropped on purpose is not damage
    assert run_json(capsys, "-C", project, "fsck")["problems"] == []


def test_drop_by_hash_and_an_unknown_model(project: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    rid = run_json(capsys, "-C", project, "add",
                   make_output(project, "a.png", seed=1))["records"][0]["id"]
    lora = next(m for m in run_json(capsys, "-C", project, "show", rid)["models"]
                if m["role"] == "lora")
    code, out, _ = run(capsys, "-C", project, "store", "drop", lora["blake3"][:12])
    assert code == 0 and "dropped 1 version(s)" in out
    code, _, err = run(capsys, "-C", project, "store", "drop", "nosuch.safetensors")
    assert code == 3 and "no known model version" in err
