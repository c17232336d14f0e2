"""The core loop on real ComfyUI 0.3.64 outputs (tests/fixtures/comfyui-0.3.64).

Run 2 made repro_upscale_00001_.png with toy model v1; v2 was then copied over
the same file name and run 5 made repro_upscale_00002_.png. Both PNGs carry
byte-identical metadata: only a content hash taken at capture tells them apart.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import orjson
import pytest

from repro.objects.hashing import hash_file
from tests.helpers import run, run_json

V1 = "f52895d01b5349be40b1aa603cd9cbce1f6d67e54f5e49aa9368ee5ac4c7198d"
V2 = "8715f92eac085129a6eed7563094363f28df61be82c07ca5ff30c51a363bf88d"


@pytest.fixture
def comfy_project(tmp_path: Path, comfy_fixtures: Path,
                  capsys: pytest.CaptureFixture[str]) -> Path:
    root = tmp_path / "proj"
    (root / "models/upscale_models").mkdir(parents=True)
    (root / "input").mkdir()
    (root / "output").mkdir()
    model = root / "models/upscale_models/tiny_compact_x2.safetensors"
    shutil.copy(comfy_fixtures / "tiny_compact_x2.safetensors", model)
    # The outputs are newer than the model, as they were on the server: its times (and so
    # its ctime, which the utime sets) come before the outputs are copied.
    os.utime(model, (time.time() - 7200, time.time() - 7200))
    shutil.copy(comfy_fixtures / "repro_input.png", root / "input/repro_input.png")
    for name in ("repro_upscale_00001_.png", "repro_empty_00001_.png",
                 "repro_loadimage_00001_.png", "repro_chain_00001_.png",
                 "repro_webp_00001_.webp", "repro_upscale_00002_.png"):
        shutil.copy(comfy_fixtures / name, root / "output" / name)
    assert run(capsys, "-C", root, "init")[0] == 0
    return root


def test_upscale_v1_then_v2_over_the_same_name(comfy_project: Path, comfy_fixtures: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    root = comfy_project
    img = root / "output/repro_upscale_00001_.png"
    rec = run_json(capsys, "-C", root, "add", img)["records"][0]
    shown = run_json(capsys, "-C", root, "show", rec["id"])
    [model] = shown["models"]
    assert model["role"] == "upscaler"
    assert model["name"] == "tiny_compact_x2.safetensors"
    assert model["blake3"] == V1
    assert model["path"] == "models/upscale_models/tiny_compact_x2.safetensors"
    [inp] = shown["inputs"]
    assert inp["name"] == "repro_input.png"
    assert inp["blake3"] == "216c4f4a615f800d4c5035a58091983877faac3c5c024e6ee1f2df5903a234de"
    assert shown["reproducibility"]["level"] == "full"

    # v2 copied over the same name, as in the fixture's run 5.
    model_path = root / "models/upscale_models/tiny_compact_x2.safetensors"
    shutil.copy(comfy_fixtures / "tiny_compact_x2_v2.safetensors", model_path)
    assert hash_file(model_path) == V2

    code, out, _ = run(capsys, "-C", root, "verify", img, "--json")
    v = orjson.loads(out)
    assert code == 1
    assert v["ready"] is False and v["level"] == "full"
    assert v["models"][0]["status"] == "changed"

    result = run_json(capsys, "-C", root, "checkout", img, "--force")
    assert result["restored"][0]["blake3"] == V1
    assert hash_file(model_path) == V1
    assert run_json(capsys, "-C", root, "verify", img)["ready"] is True


def test_run5_output_records_v2_and_diff_shows_the_version(
        comfy_project: Path, comfy_fixtures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = comfy_project
    one = root / "output/repro_upscale_00001_.png"
    two = root / "output/repro_upscale_00002_.png"
    run_json(capsys, "-C", root, "add", one)
    model_path = root / "models/upscale_models/tiny_compact_x2.safetensors"
    shutil.copy(comfy_fixtures / "tiny_compact_x2_v2.safetensors", model_path)
    run_json(capsys, "-C", root, "add", two)
    d = run_json(capsys, "-C", root, "diff", one, two)
    assert d["models"]["changed"] == [{"role": "upscaler", "name": "tiny_compact_x2.safetensors",
                                       "a": V1, "b": V2}]
    assert d["params"] == {"changed": {}, "added": {}, "removed": {}}


def test_chain_output_links_its_parent_without_being_told(
        comfy_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = comfy_project
    parent = root / "output/repro_upscale_00001_.png"
    rp = run_json(capsys, "-C", root, "add", parent)["records"][0]
    # ComfyUI read the chain's input from input/: a byte-identical copy of run 2's output.
    shutil.copy(parent, root / "input/repro_upscale_00001_.png")
    rc = run_json(capsys, "-C", root, "add", root / "output/repro_chain_00001_.png")["records"][0]
    shown = run_json(capsys, "-C", root, "show", rc["id"])
    assert shown["parents"] == [{"id": rp["id"], "relation": "input"}]
    chain = run_json(capsys, "-C", root, "log", root / "output/repro_chain_00001_.png")
    assert [r["id"] for r in chain] == [rc["id"], rp["id"]]


def test_every_fixture_output_is_captured(comfy_project: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    root = comfy_project
    shutil.copy(root / "output/repro_upscale_00001_.png", root / "input/repro_upscale_00001_.png")
    result = run_json(capsys, "-C", root, "add", root / "output")
    assert result["skipped"] == []
    by_name = {Path(r["path"]).name: r for r in result["records"]}
    assert set(by_name) == {"repro_upscale_00001_.png", "repro_empty_00001_.png",
                            "repro_loadimage_00001_.png", "repro_chain_00001_.png",
                            "repro_webp_00001_.webp", "repro_upscale_00002_.png"}
    webp = run_json(capsys, "-C", root, "show", by_name["repro_webp_00001_.webp"]["id"])
    assert webp["models"][0]["blake3"] == V1
    assert webp["output"]["media_type"] == "image/webp"
    empty = run_json(capsys, "-C", root, "show", by_name["repro_empty_00001_.png"]["id"])
    assert empty["models"] == [] and empty["reproducibility"]["level"] == "full"
