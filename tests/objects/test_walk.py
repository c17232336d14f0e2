"""The one folder walker: order, skipped folders, symlinks, depth."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from repro.objects.walk import iter_files


def tree(root: Path, *names: str) -> Path:
    """Files (and, for names ending in ``/``, empty folders) under ``root``."""
    for name in names:
        path = root / name
        if name.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(name.encode())
    return root


def walked(root: Path, max_depth: int = 12, skip_folder: Callable[[str], bool] | None = None
           ) -> list[str]:
    return [p.relative_to(root).as_posix()
            for p, _st in iter_files(root, max_depth=max_depth, skip_folder=skip_folder)]


def test_sorted_with_each_folder_at_its_place_and_hidden_folders_skipped(tmp_path: Path) -> None:
    root = tree(tmp_path / "r", "c.txt", "a.txt", "b/d/e.txt", "b/c.txt", ".repro/objects/x",
                ".cache/y", "b/.git/z", ".hidden-file", "empty/")
    assert walked(root) == [".hidden-file", "a.txt", "b/c.txt", "b/d/e.txt", "c.txt"]


def test_stat_is_the_files(tmp_path: Path) -> None:
    root = tree(tmp_path / "r", "sub/f.bin")
    [(path, st)] = iter_files(root)
    assert path == root / "sub/f.bin" and st.st_size == len(b"sub/f.bin")


def test_symlinked_folders_are_not_followed(tmp_path: Path) -> None:
    outside = tree(tmp_path / "outside", "secret.txt")
    root = tree(tmp_path / "r", "real/f.txt")
    (root / "out").symlink_to(outside, target_is_directory=True)
    (root / "again").symlink_to(root, target_is_directory=True)
    (root / "real/up").symlink_to("..", target_is_directory=True)
    (root / "alias").symlink_to(root / "real", target_is_directory=True)
    assert walked(root) == ["real/f.txt"]


def test_symlinked_files_are_yielded_and_dangling_ones_are_not(tmp_path: Path) -> None:
    outside = tree(tmp_path / "outside", "model.bin")
    root = tree(tmp_path / "r", "a.txt")
    (root / "linked.bin").symlink_to(outside / "model.bin")
    (root / "dangling").symlink_to(tmp_path / "nothing")
    (root / "loop-a").symlink_to(root / "loop-b")
    (root / "loop-b").symlink_to(root / "loop-a")
    files = dict(iter_files(root))
    assert sorted(p.name for p in files) == ["a.txt", "linked.bin"]
    assert files[root / "linked.bin"].st_size == len(b"model.bin")


def test_depth_is_bounded(tmp_path: Path) -> None:
    root = tree(tmp_path / "r", "top.txt", "1/2/3/deep.txt")
    assert walked(root, max_depth=2) == ["top.txt"]
    assert walked(root, max_depth=3) == ["1/2/3/deep.txt", "top.txt"]


def test_more_folders_can_be_skipped_and_a_root_that_is_no_folder_gives_nothing(
        tmp_path: Path) -> None:
    root = tree(tmp_path / "r", "temp/t.png", "keep/k.png")
    assert walked(root, skip_folder=lambda name: name == "temp") == ["keep/k.png"]
    assert list(iter_files(root / "keep/k.png")) == []
    assert list(iter_files(tmp_path / "missing")) == []


def test_a_symlinked_root_is_walked_and_paths_keep_its_spelling(tmp_path: Path) -> None:
    real = tree(tmp_path / "real", "sub/f.txt")
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    assert [str(p) for p, _ in iter_files(tmp_path / "link")] == [
        os.path.join(tmp_path, "link", "sub", "f.txt")]
