"""The order in which a one-image ``add`` makes its files durable (docs/layout.md,
"Write order"): every temp file and the index journal in one sync; the objects
renamed into place and their folders synced (a hardlinked model's folder with
them); only then the record. A SIGKILL cannot tell a missing fsync apart (the
page cache survives it), so the order is watched here, sync by sync."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from repro.api.add import add
from repro.api.repository import Repository
from repro.objects import atomic, store
from repro.objects.syncing import Syncer
from tests.helpers import make_output, make_project


def _watch(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Every group synced (``Syncer.sync_each``), folder fsynced outside a group and
    file renamed or linked into place, in order."""
    events: list[tuple[str, Any]] = []
    sync_each = Syncer.sync_each
    grouped: list[bool] = []

    def watched_sync_each(self: Syncer, items: Sequence[Any], sync_one: Callable[[Any], None],
                          folder: Path) -> bool:
        events.append(("sync", {str(i) for i in items}))
        grouped.append(True)
        try:
            return sync_each(self, items, sync_one, folder)
        finally:
            grouped.pop()

    fsync_dir = atomic.fsync_dir

    def watched_fsync_dir(path: str | os.PathLike[str]) -> None:
        if not grouped:
            events.append(("fsync_dir", str(path)))
        fsync_dir(path)

    replace, link = os.replace, os.link

    def watched_replace(src: Any, dst: Any, **kw: Any) -> None:
        events.append(("in place", str(dst)))
        replace(src, dst, **kw)

    def watched_link(src: Any, dst: Any, **kw: Any) -> None:
        events.append(("in place", str(dst)))
        link(src, dst, **kw)

    monkeypatch.setattr(Syncer, "sync_each", watched_sync_each)
    monkeypatch.setattr(store, "fsync_dir", watched_fsync_dir)
    monkeypatch.setattr(os, "replace", watched_replace)
    monkeypatch.setattr(os, "link", watched_link)
    return events


@pytest.mark.parametrize("mode", ["copy", "hardlink"])
def test_a_one_image_add_syncs_its_journal_and_links_with_its_objects(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    make_project(tmp_path)
    repo = Repository.init(tmp_path)
    image = make_output(tmp_path, "a.png", seed=1)
    events = _watch(monkeypatch)
    captured = add(repo, [image], mode=mode).records[0]
    record = repo.store.path(captured.id)
    model_folders = {str(repo.store.path(m.blake3).parent) for m in captured.record.models
                     if m.blake3}
    objects = str(repo.store.objects_dir)
    syncs = [items for kind, items in events if kind == "sync"]
    renamed = [e for e in events if e[0] == "in place" and e[1].startswith(objects)
               and str(Path(e[1]).parent) not in model_folders]
    # One sync of every temp file with the journal, before any of them is in place
    # (a hardlinked model is in place at once: it is the user's whole file).
    assert str(repo.journal.path) in syncs[0]
    assert events.index(("sync", syncs[0])) < events.index(renamed[0])
    # Then the folders of the objects (the models', linked or copied, among them),
    # synced before the record is in place; then the record's folder.
    assert len(syncs) == 3 and len(model_folders) == 2
    assert model_folders <= syncs[1] and str(record.parent) in syncs[2]
    assert events.index(("sync", syncs[1])) < events.index(("in place", str(record)))
    assert not [e for e in events if e[0] == "fsync_dir"]  # no folder synced on its own
