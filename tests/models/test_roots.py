"""Model roots walked by the one folder policy: each model file once, nothing reached
through a symlinked folder, names still found wherever a link leads."""

from __future__ import annotations

from pathlib import Path

from repro.models.roots import candidate_paths, iter_model_files


def test_each_model_file_once_and_only_under_the_roots(tmp_path: Path) -> None:
    root = tmp_path / "models"
    for name in ("checkpoints/a.safetensors", "loras/b.pt", "loras/notes.txt",
                 ".trash/old.ckpt", "configs/v1.yaml"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(name.encode())
    elsewhere = tmp_path / "big-disk"
    elsewhere.mkdir()
    (elsewhere / "far.safetensors").write_bytes(b"far")
    (root / "shared").symlink_to(elsewhere, target_is_directory=True)
    (root / "loras/same.pt").hardlink_to(root / "loras/b.pt")
    found = [p.relative_to(root).as_posix() for p, _ in iter_model_files([root, root / "loras"])]
    assert found == ["checkpoints/a.safetensors", "configs/v1.yaml", "loras/b.pt"]
    # By name, a model behind a linked folder is still where the tool looks.
    assert root / "shared/far.safetensors" in list(
        candidate_paths([root], "shared/far.safetensors", folder=None, role=None))
