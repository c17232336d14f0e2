"""`repro status` answers from the index and the stat cache: its `not_ready` is what
`verify` says of every record, yet only the records at risk are verified in full,
and each changed model's recorded versions say where they are."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

import repro.api.status as status_module
from repro.api.repository import Repository
from repro.demo import model_bytes, write_comfy_png, write_safetensors
from tests.helpers import img2img_graph, make_output, run, run_json


def _not_ready_by_verify(capsys: pytest.CaptureFixture[str], project: Path) -> list[str]:
    code, out, err = run(capsys, "-C", project, "verify", "--json")
    assert code in (0, 1), err
    return [r["id"] for r in orjson.loads(out) if not r["ready"]]


def test_status_agrees_with_verify_and_verifies_only_the_records_at_risk(
        project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    plain = [make_output(project, f"plain{i}.png", seed=i, lora=None) for i in range(4)]
    styled = make_output(project, "styled.png", seed=10)
    source = make_output(project, "source.png", seed=11, lora=None)
    (project / "input").mkdir()
    shutil.copy(source, project / "input" / "source.png")
    graph = img2img_graph(load_image="source.png", denoise=0.5, ckpt="base.safetensors",
                          lora=None, lora_strength=0.8, seed=7, prompt="a fox")
    derived = write_comfy_png(project / "outputs" / "derived.png", graph, pixel_seed=7)
    records = run_json(capsys, "-C", project, "add", *plain, styled, source, derived)["records"]
    ids = {Path(r["path"]).name: r["id"] for r in records}

    verified: list[list[str]] = []
    real = status_module.verify_records

    def spy(repo: Repository, records: Any = None, **kw: Any) -> Any:
        verified.append([r.id for r in records])
        return real(repo, records, **kw)

    monkeypatch.setattr(status_module, "verify_records", spy)
    assert run_json(capsys, "-C", project, "status")["not_ready"] == []
    assert verified == []  # every record settled by the index and the stat cache

    # the LoRA changes on disk, the img2img input goes away
    write_safetensors(project / "models/loras/style.safetensors", model_bytes(5, 50_000))
    (project / "input" / "source.png").unlink()
    data = run_json(capsys, "-C", project, "status")
    assert sorted(r["id"] for r in data["not_ready"]) == sorted(
        _not_ready_by_verify(capsys, project)) == sorted([ids["styled.png"], ids["derived.png"]])
    assert sorted(verified[-1]) == sorted([ids["styled.png"], ids["derived.png"]])
    [changed] = data["models_changed"]
    assert changed["path"] == "models/loras/style.safetensors" and changed["records"] == 1
    assert changed["versions"] == [{"blake3": changed["recorded"][0], "location": "local",
                                    "remotes": []}]


def test_a_changed_model_says_where_its_versions_are(
        project: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rid = run_json(capsys, "-C", project, "add",
                   make_output(project, "fox.png", seed=1))["records"][0]["id"]
    nas = tmp_path / "nas"
    nas.mkdir()
    run(capsys, "-C", project, "remote", "add", "origin", nas)
    run_json(capsys, "-C", project, "push")
    repo = Repository.discover(project)
    lora = next(m.blake3 for m in repo.load_record(rid).models if m.role == "lora")
    run_json(capsys, "-C", project, "store", "drop", lora)
    (project / "models/loras/style.safetensors").unlink()
    shutil.rmtree(nas)  # status never asks the remote

    [changed] = run_json(capsys, "-C", project, "status")["models_changed"]
    assert (changed["now"], changed["recorded"]) == ("missing", [lora])
    assert changed["versions"] == [{"blake3": lora, "location": "remote", "remotes": ["origin"]}]
    code, out, _ = run(capsys, "-C", project, "status")
    assert code == 0 and f"{lora[:12]} (on remote origin as of last sync), gone" in out
    run(capsys, "-C", project, "remote", "remove", "origin")
    [changed] = run_json(capsys, "-C", project, "status")["models_changed"]
    assert changed["versions"] == [{"blake3": lora, "location": "nowhere", "remotes": []}]
