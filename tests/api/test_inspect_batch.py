"""``repro.api.inspect``: a batch of files read one at a time."""

from __future__ import annotations

import gc
from pathlib import Path

from repro.api.inspect import Inspected, Unreadable, inspect, inspect_each
from tests.capture import formats as f


def _files(tmp_path: Path) -> list[Path]:
    paths = []
    for name, data in f.mixed_set(10):
        path = tmp_path / name
        path.write_bytes(data)
        paths.append(path)
    return paths


def test_each_file_in_order_the_same_as_the_whole_batch(tmp_path: Path) -> None:
    paths = _files(tmp_path)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("not an image")
    paths += [tmp_path / "missing.png", tmp_path / "notes"]
    skipped: list[dict[str, str]] = []
    each = [found.to_dict() for found in inspect_each(paths, skipped=skipped)]
    whole = inspect(paths)
    assert each == whole.to_dict()
    assert skipped == whole.skipped and skipped[0]["path"].endswith("a.txt")
    assert [type(x) for x in whole.files][-1] is Unreadable
    assert all(isinstance(x, Inspected) for x in whole.files[:10])
    assert all(not x.generation.blobs for x in whole.files[:10])  # not kept: not shown


def test_the_cycle_collector_is_paused_for_the_batch_and_resumed(tmp_path: Path) -> None:
    paths = _files(tmp_path)
    assert gc.isenabled()
    during = [gc.isenabled() for _ in inspect_each(paths)]
    assert during == [False] * len(paths) and gc.isenabled()
    gc.disable()
    try:  # a caller that had paused it itself gets it back paused
        list(inspect_each(paths))
        assert not gc.isenabled()
    finally:
        gc.enable()
