"""``inspect`` and ``add`` never say ``full`` when a model the generation used is known
only by a name that does not identify its file (issue 15: face restoration)."""

from __future__ import annotations

from pathlib import Path

import pytest

from repro.demo import a1111_parameters, model_bytes, write_a1111_png, write_safetensors
from repro.models.hashes import compute_hashes
from tests.helpers import run, run_json

Capsys = pytest.CaptureFixture[str]


@pytest.mark.parametrize("restorer", [None, "CodeFormer"])
def test_face_restorer_known_by_name_only_is_never_full(tmp_path: Path, capsys: Capsys,
                                                        restorer: str | None) -> None:
    root = tmp_path / "p"
    ckpt = write_safetensors(root / "models/Stable-diffusion/dream.safetensors",
                             model_bytes(5, 1000))
    autov2 = compute_hashes(ckpt, {"sha256"})["sha256"][:10]
    text = a1111_parameters(prompt="a fox", negative="", seed=1, model="dream",
                            model_hash=autov2)
    if restorer:
        text = text.replace("Seed: 1, ", f"Seed: 1, Face restoration: {restorer}, ")
    img = write_a1111_png(root / "outputs/a.png", text, pixel_seed=1)
    assert run(capsys, "-C", root, "init")[0] == 0

    [inspected] = run_json(capsys, "-C", root, "inspect", img, "--json")
    [rec] = run_json(capsys, "-C", root, "add", img, "--no-env")["records"]
    if restorer is None:  # the same file without face restoration is full: the test can fail
        assert inspected["level"] == rec["level"] == "full", rec["reasons"]
        return
    roles = {m["role"]: m["name"] for m in inspected["models"]}
    assert roles == {"checkpoint": "dream", "face_restorer": "CodeFormer"}
    assert inspected["level"] == "partial"
    assert any("CodeFormer" in r for r in inspected["reasons"])
    assert rec["level"] != "full", rec
