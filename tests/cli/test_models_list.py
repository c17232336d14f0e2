"""``repro models``: ordered by role, name and use, with size and where each version is
on disk now."""

from __future__ import annotations

from pathlib import Path

import pytest

from repro.api.repository import Repository
from repro.demo import model_bytes, write_safetensors
from tests.helpers import make_output, make_project, run, run_json


def test_models_sorted_with_size_and_on_disk_now(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    Repository.init(tmp_path)
    files = make_project(tmp_path)
    for n in range(3):
        run_json(capsys, "-C", tmp_path, "add", make_output(tmp_path, f"{n}.png", seed=n))
    # A second version of the checkpoint under the same name, used once.
    write_safetensors(files["ckpt"], model_bytes(9, 300_000))
    run_json(capsys, "-C", tmp_path, "add", make_output(tmp_path, "new.png", seed=9))
    listed = run_json(capsys, "-C", tmp_path, "models")
    assert [(m["roles"][0], m["uses"]) for m in listed] == [
        ("checkpoint", 3), ("checkpoint", 1), ("lora", 4)]
    assert [m["on_disk"] for m in listed] == [
        [], ["models/checkpoints/base.safetensors"], ["models/loras/style.safetensors"]]
    assert all(m["size"] > 0 for m in listed)
    code, out, _ = run(capsys, "-C", tmp_path, "models")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("checkpoint: base.safetensors") and "3 output(s)" in lines[0]
    assert "KiB" in lines[0] and "in store" in lines[0]
    assert lines[1] == "    not on disk now (was models/checkpoints/base.safetensors)"
    assert lines[3] == "    on disk now: models/checkpoints/base.safetensors"
