"""Issue 12 item 11: the folder watcher has no one-second window between an output
and a model change; a copy that keeps the mtime is seen by its ctime."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from repro.api.repository import Repository
from repro.watch.folder import FolderWatcher
from tests.watch.test_folder import _png


def _setup(tmp_path: Path) -> tuple[Repository, Path, Path]:
    repo = Repository.init(tmp_path / "project")
    model = tmp_path / "project" / "models" / "checkpoints" / "base.safetensors"
    model.parent.mkdir(parents=True)
    model.write_bytes(b"the version the output was made with" * 64)
    folder = tmp_path / "out"
    folder.mkdir()
    return repo, model, folder


def _captured(repo: Repository, folder: Path) -> dict[str, object]:
    events: list[dict[str, object]] = []
    watcher = FolderWatcher(repo, folder, notify=events.append)
    watcher.poll()
    watcher.poll()
    [event] = [e for e in events if e["event"] == "captured"]
    return event


def test_a_model_swapped_087_s_after_the_output_is_not_full(tmp_path: Path) -> None:
    repo, model, folder = _setup(tmp_path)
    out = folder / "ComfyUI_00001_.png"
    out.write_bytes(_png(1))
    made = out.stat().st_mtime_ns
    model.write_bytes(b"another version, swapped in later" * 64)
    os.utime(model, ns=(made + 870_000_000, made + 870_000_000))
    event = _captured(repo, folder)
    assert event["level"] == "approximate", event
    assert any("modified after the output was made" in str(r) for r in event["reasons"])


def test_a_copy_that_keeps_the_old_mtime_is_seen_by_its_ctime(tmp_path: Path) -> None:
    repo, model, folder = _setup(tmp_path)
    before = model.stat()
    out = folder / "ComfyUI_00001_.png"
    out.write_bytes(_png(1))
    time.sleep(0.02)
    other = tmp_path / "other.safetensors"
    other.write_bytes(b"another version, copied with cp -p" * 64)
    shutil.copy2(other, model)
    os.utime(model, ns=(before.st_atime_ns, before.st_mtime_ns))  # as cp -p leaves it
    assert model.stat().st_mtime_ns < out.stat().st_mtime_ns
    event = _captured(repo, folder)
    assert event["level"] == "approximate", event


def test_a_model_older_than_the_output_stays_full(tmp_path: Path) -> None:
    repo, _model, folder = _setup(tmp_path)
    time.sleep(0.02)
    (folder / "ComfyUI_00001_.png").write_bytes(_png(1))
    assert _captured(repo, folder)["level"] == "full"

