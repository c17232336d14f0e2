"""An input image the generation names without a hash is captured from disk; if
that file changed after the output was made, its bytes now may not be the ones
the engine read, so the record is not ``full`` (issue 12, the input twin of
``model.modified-after-output``)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from repro.api.repository import Repository
from repro.demo import write_comfy_png
from tests.helpers import img2img_graph, make_project, run_json


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    Repository.init(root)
    make_project(root)
    (root / "input").mkdir()
    return root


def _derived(project: Path) -> Path:
    graph = img2img_graph(load_image="source.png", denoise=0.5, ckpt="base.safetensors",
                          lora="style.safetensors", lora_strength=0.8, seed=7, prompt="a fox")
    return write_comfy_png(project / "outputs" / "derived.png", graph, pixel_seed=7)


def _add(capsys: pytest.CaptureFixture[str], project: Path, out: Path) -> dict:
    [record] = run_json(capsys, "-C", project, "add", out)["records"]
    return run_json(capsys, "-C", project, "show", record["id"])["reproducibility"]


def _codes(shown: dict) -> list[str]:
    return [r["code"] for r in shown["reasons"]]


def test_an_input_older_than_the_output_is_full(project: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (project / "input" / "source.png").write_bytes(b"the input the engine read")
    time.sleep(0.01)
    shown = _add(capsys, project, _derived(project))
    assert shown["level"] == "full", shown


def test_an_input_rewritten_after_the_output_is_not_full(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = project / "input" / "source.png"
    source.write_bytes(b"the input the engine read")
    out = _derived(project)
    made = out.stat().st_mtime_ns
    source.write_bytes(b"another picture saved under the same name")
    os.utime(source, ns=(made + 400_000_000, made + 400_000_000))
    shown = _add(capsys, project, out)
    assert shown["level"] == "approximate"
    assert _codes(shown) == ["input.modified-after-output"]
    [reason] = shown["reasons"]
    assert "source.png" in reason["text"] and "modified after the output" in reason["text"]


def test_an_input_copied_in_with_its_old_mtime_is_seen_by_its_ctime(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    elsewhere = project / "old.png"
    elsewhere.write_bytes(b"an old picture")
    out = _derived(project)
    time.sleep(0.01)
    shutil.copy2(elsewhere, project / "input" / "source.png")  # as cp -p: old mtime, new ctime
    assert (project / "input" / "source.png").stat().st_mtime_ns < out.stat().st_mtime_ns
    shown = _add(capsys, project, out)
    assert shown["level"] == "approximate"
    assert "input.modified-after-output" in _codes(shown)
