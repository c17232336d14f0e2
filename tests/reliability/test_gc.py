"""gc removes only unreachable objects older than the grace period; never what
a record, a tag, a displaced-file keep or an ongoing write needs."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from repro.api import maintenance
from repro.api.repository import Repository
from repro.demo import model_bytes, write_safetensors
from repro.objects.hashing import hash_file
from tests.helpers import make_output, run, run_json

Capsys = pytest.CaptureFixture[str]
DAY = 86400.0


@pytest.fixture
def project(project: Path, capsys: Capsys) -> Path:
    """The shared project (tests/conftest.py) with outputs made for these tests."""
    make_output(project, "o1.png", seed=1)
    assert run(capsys, "-C", project, "add", project / "outputs", "--no-env", "--tag", "final")[0] == 0
    return project


def _later(monkeypatch: pytest.MonkeyPatch, days: float) -> None:
    """gc's clock, ``days`` ahead (a ctime cannot be backdated, so time moves instead)."""
    now = time.time()
    monkeypatch.setattr(maintenance.time, "time", lambda: now + days * DAY)


def _garbage(root: Path, n: int = 3) -> list[str]:
    repo = Repository(root)
    oids: list[str] = [repo.store.put_bytes(f"unreferenced {i}".encode()) for i in range(n)]
    repo.close()
    return oids


def _reachable(root: Path) -> set[str]:
    repo = Repository(root)
    keep = maintenance.kept_objects(repo)
    for record in repo.iter_record_objects():
        keep.add(record.id)
        keep.update(oid for oid, _ in maintenance.referenced_objects(record))
    # An output's thumbnail (lineage.thumbnails) lives as long as the output.
    keep.update(thumb for output, thumb in repo.thumbs.refs() if thumb and output in keep)
    repo.close()
    return keep


def _objects(root: Path) -> set[str]:
    return set(Repository(root).store)


def test_young_garbage_is_kept_old_garbage_removed(project: Path, capsys: Capsys,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    garbage = _garbage(project)
    reachable = _reachable(project)
    assert reachable and not reachable & set(garbage)
    _later(monkeypatch, 10)  # younger than the default 14 days
    assert run_json(capsys, "-C", project, "gc")["removed"] == 0
    assert set(garbage) <= _objects(project)
    _later(monkeypatch, 15)
    result = run_json(capsys, "-C", project, "gc")
    assert sorted(result["objects"]) == sorted(garbage) and result["removed"] == 3
    assert _objects(project) == reachable
    assert run(capsys, "-C", project, "fsck")[0] == 0


def test_dry_run_lists_and_removes_nothing(project: Path, capsys: Capsys,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    garbage = _garbage(project)
    before = _objects(project)
    _later(monkeypatch, 30)
    result = run_json(capsys, "-C", project, "gc", "--dry-run")
    assert sorted(result["objects"]) == sorted(garbage)
    assert result["bytes"] == sum(len(f"unreferenced {i}") for i in range(3))
    assert _objects(project) == before


def test_records_tags_and_displaced_files_survive_any_age(project: Path, capsys: Capsys,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    ckpt = project / "models/checkpoints/base.safetensors"
    write_safetensors(ckpt, model_bytes(99, 300_000))  # a new version under the same name
    displaced = hash_file(ckpt)
    result = run_json(capsys, "-C", project, "checkout", "outputs/o1.png", "--force")
    assert result["displaced"] == [{"path": "models/checkpoints/base.safetensors",
                                    "blake3": displaced}]
    _later(monkeypatch, 10_000)
    assert run_json(capsys, "-C", project, "gc")["removed"] == 0
    assert displaced in _objects(project)
    repo = Repository(project)
    tagged = repo.refs.get_tag("final")
    assert tagged is not None and tagged in repo.store
    repo.close()
    assert run(capsys, "-C", project, "fsck")[0] == 0


def test_gc_waits_for_an_ongoing_write(project: Path, capsys: Capsys,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer holds the lock (between writing objects and naming them):
    gc does not run until it is gone."""
    garbage = _garbage(project)
    (project / ".reprorc").write_text("[lock]\ntimeout = 0.3\n")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from repro.objects.lock import write_lock\n"
         "with write_lock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(30)",
         str(project / ".repro/lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        _later(monkeypatch, 30)
        code, _, err = run(capsys, "-C", project, "gc")
        assert code == 6 and "locked by pid" in err and "Traceback" not in err
        assert set(garbage) <= _objects(project)
    finally:
        holder.kill()
        holder.communicate()
    code, out, err = run(capsys, "-C", project, "gc", "--json")
    assert code == 0 and orjson.loads(out)["removed"] == 3


def test_gc_removes_temp_files_of_a_crashed_writer(project: Path, capsys: Capsys) -> None:
    (project / ".repro/tmp/tmp-x").write_bytes(b"partial")
    assert run(capsys, "-C", project, "gc")[0] == 0
    assert list((project / ".repro/tmp").iterdir()) == []
