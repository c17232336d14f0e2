"""``repro checkout --to DIR`` restores under DIR, whether or not it exists yet."""

from __future__ import annotations

from pathlib import Path

import pytest

from repro.objects.hashing import hash_file
from tests.helpers import make_output, run, run_json


@pytest.mark.parametrize("existing", [False, True], ids=["new-folder", "existing-folder"])
def test_checkout_to_a_folder(project: Path, capsys: pytest.CaptureFixture[str],
                              existing: bool) -> None:
    img = make_output(project, "a.png", seed=3)
    run_json(capsys, "-C", project, "add", img)
    ckpt = project / "models/checkpoints/base.safetensors"
    lora = project / "models/loras/style.safetensors"
    dest = project / "elsewhere" / "restored"
    if existing:
        dest.mkdir(parents=True)
    result = run_json(capsys, "-C", project, "checkout", img, "--to", "elsewhere/restored")
    restored = sorted(r["path"] for r in result["restored"])
    assert restored == ["elsewhere/restored/models/checkpoints/base.safetensors",
                        "elsewhere/restored/models/loras/style.safetensors"]
    assert hash_file(dest / "models/checkpoints/base.safetensors") == hash_file(ckpt)
    assert hash_file(dest / "models/loras/style.safetensors") == hash_file(lora)


def test_checkout_to_a_new_folder_dry_run_writes_nothing(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    img = make_output(project, "a.png", seed=3)
    run_json(capsys, "-C", project, "add", img)
    result = run_json(capsys, "-C", project, "checkout", img, "--to", "fresh", "--dry-run")
    assert len(result["restored"]) == 2
    assert not (project / "fresh").exists()


def test_checkout_to_refuses_a_symlink_leading_out(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    img = make_output(project, "a.png", seed=3)
    run_json(capsys, "-C", project, "add", img)
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = project / "dest"
    dest.mkdir()
    (dest / "models").symlink_to(outside)
    code, _, err = run(capsys, "-C", project, "checkout", img, "--to", "dest")
    assert code == 5, err
    assert not any(outside.rglob("*"))
