"""SIGKILL real ``repro`` processes while they write or rewrite packs
(``repro.objects.packs``): an ``add`` whose three images' small objects go into
one pack, and a ``gc`` that drops objects from a pack by writing its
replacement. After every kill the store is consistent (fsck finds nothing but
what the next writer clears, every record's objects are whole); the re-run
completes the work."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from repro.api.maintenance import KEEP_DIR
from repro.api.repository import Repository
from repro.objects.batching import MOST_PACKS
from tests.reliability.harness import (
    COMMANDS,
    Tally,
    Templates,
    build_templates,
    check_after_kill,
    check_done,
    fresh_copy,
    kill_at,
    run_repro,
)


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    return build_templates(tmp_path_factory.mktemp("templates"))


def _packs(root: Path) -> list[Path]:
    return sorted((root / ".repro" / "objects" / "pack").glob("*.pack"))


@pytest.mark.parametrize("crash_at", ["batch.synced", "pack.placed", "add.stored"])
def test_a_kill_while_a_batch_is_packed(templates: Templates, fast_tmp: Path,
                                        crash_at: str) -> None:
    tally = Tally()
    work = fast_tmp / "w"
    assert kill_at(templates, "add", work, tally, random.Random(0), crash_at)
    assert tally.by_command == {"add": 1}
    assert len(_packs(work)) == 1  # the re-run packed the batch


@pytest.mark.parametrize("crash_at", ["pack.synced", "pack.placed", "pack.removed"])
def test_a_kill_while_gc_rewrites_a_pack(templates: Templates, fast_tmp: Path,
                                         crash_at: str) -> None:
    root = fresh_copy(templates, "gc", fast_tmp / "w", random.Random(0))
    # A pack of objects, half of them kept on purpose (``refs/keep``, as a checkout
    # keeps a displaced file): gc must write a pack of those and drop the rest.
    repo = Repository(root)
    blobs = [random.Random(n).randbytes(200 + n) for n in range(20)]
    ids = repo.store.put_many(blobs)
    repo.close()
    kept = ids[::2]
    keep = root / ".repro" / KEEP_DIR
    keep.mkdir(parents=True, exist_ok=True)
    for oid in kept:
        (keep / oid).write_bytes(b"kept by a test\n")
    before = _packs(root)
    code, err = run_repro(root, COMMANDS["gc"], crash_at=crash_at)
    assert code == -9, err
    check_after_kill(templates, "gc", root)
    code, err = run_repro(root, COMMANDS["gc"])
    assert code == 0, err
    check_done(templates, "gc", root)
    assert len(_packs(root)) == len(before) and _packs(root) != before
    repo = Repository(root)
    try:
        assert [oid in repo.store for oid in ids] == [True, False] * 10
        for oid in kept:
            repo.store.check(oid)
    finally:
        repo.close()


@pytest.mark.parametrize("crash_at", ["pack.placed:2", "pack.removed", "pack.removed:3"])
def test_a_kill_while_an_add_merges_packs(templates: Templates, fast_tmp: Path,
                                          crash_at: str) -> None:
    """A store at the most packs it keeps: the ``add`` that places one more merges
    the smaller half (``pack_writer.consolidate``); killed while it places the
    merged pack or removes the packs merged, nothing is lost, and the next
    batch merges what is left."""
    root = fresh_copy(templates, "add", fast_tmp / "w", random.Random(0))
    repo = Repository(root)
    stored = []
    for n in range(MOST_PACKS):
        stored += repo.store.put_many(random.Random(n).randbytes(100 + i) for i in range(5))
    repo.close()
    assert len(_packs(root)) == MOST_PACKS
    code, err = run_repro(root, COMMANDS["add"], crash_at=crash_at)
    assert code == -9, err
    check_after_kill(templates, "add", root)
    code, err = run_repro(root, COMMANDS["add"])
    assert code == 0, err
    check_done(templates, "add", root)
    # Killed after placing the merged pack, the ones it replaces are still there
    # (their objects twice, harmless) until the next batch or gc merges again.
    code, err = run_repro(root, ["gc", "--grace-days", "365"])
    assert code == 0, err
    assert len(_packs(root)) <= MOST_PACKS
    repo = Repository(root)
    try:
        for oid in stored:
            repo.store.check(oid)
    finally:
        repo.close()
