"""The folder watcher takes ComfyUI's video outputs (MP4 from ``SaveVideo``, WebM
from ``SaveWEBM``) as ``add`` does, once their container is whole."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from repro.api.repository import Repository
from repro.watch.folder import FolderWatcher, container_complete, ignored

VIDEOS = Path(__file__).parents[1] / "fixtures" / "video"


@pytest.mark.parametrize("name", ["comfy.mp4", "comfy.webm"])
def test_a_video_is_whole_only_when_its_container_is(name: str, tmp_path: Path) -> None:
    data = (VIDEOS / name).read_bytes()
    whole = tmp_path / name
    whole.write_bytes(data)
    assert container_complete(whole)
    for cut in (100, len(data) // 2, len(data) - 1):
        part = tmp_path / f"part-{cut}-{name}"
        part.write_bytes(data[:cut])
        assert not container_complete(part), cut


@pytest.mark.parametrize("rel", ["ComfyUI_00001_.mp4", "video/a.webm", "a.MOV", "a.mkv"])
def test_video_files_are_watched(rel: str) -> None:
    assert not ignored(PurePosixPath(rel))


@pytest.mark.parametrize("name", ["comfy.mp4", "comfy.webm"])
def test_a_video_written_in_two_parts_is_captured_once_whole(name: str, tmp_path: Path) -> None:
    repo = Repository.init(tmp_path / "project")
    folder = tmp_path / "out"
    folder.mkdir()
    events: list[dict[str, object]] = []
    watcher = FolderWatcher(repo, folder, notify=events.append)
    data = (VIDEOS / name).read_bytes()
    target = folder / f"ComfyUI_00001_{Path(name).suffix}"
    with open(target, "wb") as f:
        f.write(data[: len(data) // 2])
        f.flush()
        watcher.poll()
        watcher.poll()  # stable, but the container is not whole
        assert events == []
        f.write(data[len(data) // 2:])
    watcher.poll()
    watcher.poll()
    [event] = events
    assert event["event"] == "captured", event
    # The fixture's graph makes frames from an EmptyImage: no model, no seed to miss.
    assert event["level"] == "full" and len(repo.index.records_for_path(repo.relpath(target))) == 1
