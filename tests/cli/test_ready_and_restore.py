"""``verify`` is not ready when a re-run would fail (an input gone, no model recorded),
and ``checkout --output`` brings back a deleted output from the store."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import orjson
import pytest

from repro.api.repository import Repository
from repro.demo import write_a1111_png, write_comfy_png
from tests.helpers import img2img_graph, make_output, make_project, run, run_json


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    Repository.init(root)
    make_project(root)
    return root


def _verify(capsys: pytest.CaptureFixture[str], project: Path, target: Path | str
            ) -> tuple[int, dict]:
    code, out, err = run(capsys, "-C", project, "verify", target, "--json")
    assert code in (0, 1), err
    return code, orjson.loads(out)


def test_an_input_moved_away_makes_verify_not_ready(project: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    source = make_output(project, "source.png", seed=1)
    (project / "input").mkdir()
    shutil.copy(source, project / "input" / "source.png")
    graph = img2img_graph(load_image="source.png", denoise=0.5, ckpt="base.safetensors",
                          lora="style.safetensors", lora_strength=0.8, seed=7,
                          prompt="a fox")
    out = write_comfy_png(project / "outputs" / "derived.png", graph, pixel_seed=7)
    added = run_json(capsys, "-C", project, "add", source, out)
    assert [r["level"] for r in added["records"]] == ["full", "full"]
    code, result = _verify(capsys, project, out)
    assert code == 0 and result["ready"] is True

    shutil.move(project / "input" / "source.png", project / "elsewhere.png")
    code, result = _verify(capsys, project, out)
    assert code == 1 and result["ready"] is False
    assert any("missing from disk" in r and "checkout --inputs" in r for r in result["reasons"])
    code, text, _ = run(capsys, "-C", project, "verify", out)
    assert code == 1 and "NOT ready" in text


def test_a_record_without_any_model_is_ready_only_when_full(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # An infotext that names no model at all: parameters, but nothing to put back.
    png = write_a1111_png(project / "outputs" / "00001-1.png",
                          "a lighthouse\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 1, "
                          "Size: 64x96", pixel_seed=1)
    [record] = run_json(capsys, "-C", project, "add", png)["records"]
    assert record["level"] != "full"
    code, result = _verify(capsys, project, png)
    assert code == 1 and result["ready"] is False and result["models"] == []


def test_checkout_output_brings_back_a_deleted_output(project: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = make_output(project, "a.png", seed=3)
    data = out.read_bytes()
    run_json(capsys, "-C", project, "add", out)
    rid = run_json(capsys, "-C", project, "show", out)["id"]
    out.unlink()
    assert run_json(capsys, "-C", project, "verify", rid)["output"] == "missing"
    _code, text, _ = run(capsys, "-C", project, "verify", rid)
    assert f"`repro checkout {rid[:12]} --output` brings it back" in text
    restored = run_json(capsys, "-C", project, "checkout", rid, "--output")
    assert [e["path"] for e in restored["restored"]] == ["outputs/a.png"]
    assert [e["kind"] for e in restored["unchanged"]] == ["model", "model"]
    assert out.read_bytes() == data
    assert run_json(capsys, "-C", project, "verify", rid)["output"] == "present"
    # Changed since: a conflict, as for models; --force stores the new bytes first.
    out.write_bytes(b"edited")
    code, _, err = run(capsys, "-C", project, "checkout", rid, "--output")
    assert code == 5 and "other content" in err
    code, _, _ = run(capsys, "-C", project, "checkout", rid, "--output", "--force")
    assert code == 0 and out.read_bytes() == data


def test_restored_files_get_the_umask_mode(project: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = make_output(project, "a.png", seed=3)
    run_json(capsys, "-C", project, "add", out, "--mode", "copy")
    lora = project / "models/loras/style.safetensors"
    lora.unlink()
    out.unlink()
    old = os.umask(0o022)
    try:
        run_json(capsys, "-C", project, "checkout", "outputs/a.png", "--output")
    finally:
        os.umask(old)
    for path in (lora, out):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_checkout_fails_when_nothing_could_be_restored(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = make_output(project, "a.png", seed=3)
    run_json(capsys, "-C", project, "add", out, "--mode", "reference")
    for p in (project / "models").rglob("*.safetensors"):
        p.unlink()
    code, text, err = run(capsys, "-C", project, "checkout", "outputs/a.png")
    assert code == 1, (text, err)
    assert "unavailable" in text and "nothing could be restored" in err
    code, text, _ = run(capsys, "-C", project, "checkout", "outputs/a.png", "--json")
    assert code == 1 and orjson.loads(text)["restored"] == []


def test_an_input_never_found_makes_verify_not_ready(project: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 12 item 7: no bytes were ever recorded for the LoadImage input, so a re-run
    cannot load it (ComfyUI answers 400 for a missing one)."""
    graph = img2img_graph(load_image="gone.png", denoise=0.5, ckpt="base.safetensors",
                          lora="style.safetensors", lora_strength=0.8, seed=7, prompt="a fox")
    out = write_comfy_png(project / "outputs" / "derived.png", graph, pixel_seed=7)
    [record] = run_json(capsys, "-C", project, "add", out)["records"]
    assert record["level"] == "approximate"
    code, result = _verify(capsys, project, out)
    assert code == 1 and result["ready"] is False
    assert any("gone.png" in r and "not recorded" in r for r in result["reasons"])
