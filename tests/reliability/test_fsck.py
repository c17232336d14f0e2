"""fsck and fsck --repair against a store broken on purpose: flipped byte,
truncated object, deleted object, garbage index, stale lock, temp files,
writable objects, a hardlinked model edited in place."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from repro.api.repository import Repository
from repro.objects.hashing import hash_file
from tests.helpers import make_output, make_project, record_bytes, repro_subprocess, run, run_json

Capsys = pytest.CaptureFixture[str]


@pytest.fixture
def project(project: Path, capsys: Capsys) -> Path:
    """The shared project (tests/conftest.py) with outputs made for these tests, one
    an ``add``: each object a file of its own (loose), which the tests damage
    (packed objects: tests/objects/test_packs.py, tests/api/test_packed_store.py)."""
    for seed in (1, 2):
        path = make_output(project, f"o{seed}.png", seed=seed)
        assert run(capsys, "-C", project, "add", path, "--no-env")[0] == 0
    return project


def _fsck(capsys: Capsys, root: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run(capsys, "-C", root, "fsck", "--json", *extra)
    assert "Traceback" not in err
    return code, orjson.loads(out)


def _kinds(report: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(p["kind"], p.get("object")) for p in report["problems"]]


def _ckpt_oid(root: Path) -> str:
    return hash_file(root / "models/checkpoints/base.safetensors")


def _object(root: Path, oid: str) -> Path:
    return root / ".repro/objects" / oid[:2] / oid[2:]


def _flip(path: Path, offset: int = 100) -> None:
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))
    os.chmod(path, 0o444)


def test_a_clean_store_has_no_problems(project: Path, capsys: Capsys) -> None:
    code, report = _fsck(capsys, project)
    assert (code, report["problems"]) == (0, [])


def test_flipped_byte_in_a_model_is_found_and_restored_from_the_model_root(
        project: Path, capsys: Capsys) -> None:
    oid = _ckpt_oid(project)
    _flip(_object(project, oid))
    code, report = _fsck(capsys, project)
    assert code == 1 and _kinds(report) == [("corrupt", oid)]
    code, report = _fsck(capsys, project, "--repair")
    assert any(a.startswith(f"moved corrupt object {oid}") for a in report["repaired"])
    assert any(a.startswith(f"restored {oid} from ") for a in report["repaired"])
    # Moved aside, never deleted: the damaged bytes are still there.
    [aside] = (project / ".repro/corrupt").iterdir()
    assert aside.name.startswith(oid) and hash_file(aside) != oid
    assert hash_file(_object(project, oid)) == oid
    assert _fsck(capsys, project) == (0, {"problems": [], "repaired": []})


def test_truncated_output_object_is_moved_aside_and_then_reported_missing(
        project: Path, capsys: Capsys) -> None:
    repo = Repository(project)
    record = next(repo.iter_record_objects())
    repo.close()
    oid = record.output.blake3
    path = _object(project, oid)
    os.chmod(path, 0o644)
    os.truncate(path, path.stat().st_size // 2)
    code, report = _fsck(capsys, project)
    assert code == 1 and _kinds(report) == [("corrupt", oid)]
    # The file at the recorded output path is gone: no good copy anywhere.
    (project / str(record.output.path)).unlink()
    code, report = _fsck(capsys, project, "--repair")
    assert not path.exists()
    code, report = _fsck(capsys, project)
    assert code == 1 and _kinds(report) == [("missing", oid)]
    assert record.id in report["problems"][0]["message"]


def test_truncated_output_object_is_restored_from_its_recorded_path(
        project: Path, capsys: Capsys) -> None:
    repo = Repository(project)
    record = next(repo.iter_record_objects())
    repo.close()
    oid = record.output.blake3
    path = _object(project, oid)
    os.chmod(path, 0o644)
    os.truncate(path, path.stat().st_size // 2)
    _, report = _fsck(capsys, project, "--repair")
    assert f"restored {oid} from {project / str(record.output.path)}" in report["repaired"]
    assert hash_file(path) == oid
    assert _fsck(capsys, project) == (0, {"problems": [], "repaired": []})


def test_deleted_model_object_is_missing_and_repair_fetches_it(project: Path,
                                                               capsys: Capsys) -> None:
    oid = _ckpt_oid(project)
    _object(project, oid).unlink()
    code, report = _fsck(capsys, project)
    # Both records name the checkpoint.
    assert code == 1 and _kinds(report) == [("missing", oid), ("missing", oid)]
    _fsck(capsys, project, "--repair")
    assert _fsck(capsys, project)[0] == 0


@pytest.mark.parametrize("damage", ["garbage", "pages"])
def test_damaged_index_is_reported_and_rebuilt(project: Path, capsys: Capsys,
                                               damage: str) -> None:
    # In-process CLI runs leave connections for the garbage collector; one still
    # open would serve pages from the WAL it shares, hiding the damage.
    gc.collect()
    index = project / ".repro/index.sqlite"
    for suffix in ("-wal", "-shm"):
        (project / f".repro/index.sqlite{suffix}").unlink(missing_ok=True)
    size = index.stat().st_size
    if damage == "garbage":
        index.write_bytes(os.urandom(size))
    else:  # the header survives, every page after it is noise
        with open(index, "r+b") as f:
            f.seek(100)
            f.write(os.urandom(size - 100))
    code, report = _fsck(capsys, project)
    assert code == 1 and [k for k, _ in _kinds(report)] == ["index"]
    proc = repro_subprocess("log", cwd=project)
    assert proc.returncode == 7 and proc.stderr.startswith("error: the index ")
    assert "Traceback" not in proc.stderr and "fsck --repair" in proc.stderr
    _fsck(capsys, project, "--repair")
    assert _fsck(capsys, project)[0] == 0
    assert len(run_json(capsys, "-C", project, "log")) == 2


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_stale_lock_is_reported_and_taken_over(project: Path, capsys: Capsys) -> None:
    import socket

    pid = _dead_pid()
    (project / ".repro/lock").write_text(
        f"pid {pid}\nhost {socket.gethostname()}\nstarted 2020-01-01T00:00:00+00:00\n")
    code, report = _fsck(capsys, project)
    [problem] = report["problems"]
    assert code == 0 and problem["kind"] == "tmp" and f"pid {pid}" in problem["message"]
    make_output(project, "o3.png", seed=3)
    code, _, err = run(capsys, "-C", project, "add", project / "outputs/o3.png", "--no-env")
    assert code == 0 and "took over a stale lock" in err and f"pid {pid}" in err
    assert _fsck(capsys, project) == (0, {"problems": [], "repaired": []})


def test_leftover_temp_files_are_reported_and_cleaned_by_the_next_writer(
        project: Path, capsys: Capsys) -> None:
    tmp = project / ".repro/tmp"
    (tmp / "tmp-abc123").write_bytes(b"half an object")
    (tmp / "tmp-link-0123").write_bytes(b"")
    code, report = _fsck(capsys, project)
    assert code == 0 and [k for k, _ in _kinds(report)] == ["tmp", "tmp"]
    assert run(capsys, "-C", project, "gc", "--dry-run")[0] == 0
    assert list(tmp.iterdir()) == []


def test_writable_object_is_reported_and_made_read_only(project: Path, capsys: Capsys) -> None:
    oid = _ckpt_oid(project)
    os.chmod(_object(project, oid), 0o644)
    code, report = _fsck(capsys, project)
    assert code == 1 and _kinds(report) == [("readonly", oid)]
    _fsck(capsys, project, "--repair")
    assert _object(project, oid).stat().st_mode & 0o777 == 0o444
    assert _fsck(capsys, project)[0] == 0


def test_record_missing_from_the_index_and_a_broken_record(project: Path,
                                                           capsys: Capsys) -> None:
    repo = Repository(project)
    orphan = repo.store.put_bytes(record_bytes(
        {"schema": "repro.record/1", "output": {"blake3": "0" * 64}}))
    repo.close()
    code, report = _fsck(capsys, project)
    kinds = _kinds(report)
    assert code == 1
    assert ("index", orphan) in kinds and ("missing", "0" * 64) in kinds
    assert any(k == "schema" and o == orphan for k, o in kinds)


def test_hardlinked_model_edited_in_place(tmp_path: Path, capsys: Capsys) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    paths = make_project(root)
    assert run(capsys, "-C", root, "init")[0] == 0
    out = make_output(root, "o.png", seed=5)
    assert run(capsys, "-C", root, "add", out, "--mode", "hardlink", "--no-env")[0] == 0
    oid = hash_file(paths["ckpt"])
    assert _object(root, oid).stat().st_ino == paths["ckpt"].stat().st_ino
    _flip(paths["ckpt"], offset=5000)  # a tool writing the model in place
    code, report = _fsck(capsys, root)
    assert code == 1 and ("corrupt", oid) in _kinds(report)
    code, out_text, _ = run(capsys, "-C", root, "verify", out, "--json")
    result = orjson.loads(out_text)
    assert code == 1 and result["ready"] is False
    [ckpt] = [m for m in result["models"] if m["role"] == "checkpoint"]
    assert ckpt["status"] == "changed" and ckpt["in_store"] is False
    # Repair moves the damaged object aside; the user's (edited) file stays put.
    _fsck(capsys, root, "--repair")
    assert paths["ckpt"].exists() and not _object(root, oid).exists()


def test_an_index_rebuild_cut_short_is_redone_on_the_next_open(project: Path) -> None:
    import socket

    repo = Repository(project)
    assert repo.index.count() == 2
    # What a rebuild killed half-way leaves: its marker, and rows missing.
    repo.conn.execute("DELETE FROM records")
    repo.conn.execute("INSERT OR REPLACE INTO meta VALUES ('rebuilding', ?)",
                      (f"{socket.gethostname()} {_dead_pid()}",))
    repo.close()
    repo = Repository(project)
    assert repo.index.count() == 2
    assert repo.conn.execute("SELECT 1 FROM meta WHERE key = 'rebuilding'").fetchone() is None
    # A marker of a live process is a rebuild in progress elsewhere: left alone.
    repo.conn.execute("INSERT OR REPLACE INTO meta VALUES ('rebuilding', ?)",
                      (f"{socket.gethostname()} {os.getpid()}",))
    repo.conn.execute("DELETE FROM records")
    repo.close()
    repo = Repository(project)
    assert repo.index.count() == 0
    repo.close()


def test_fsck_reports_progress_over_every_object(project: Path) -> None:
    from repro.api.maintenance import fsck

    repo = Repository(project)
    calls: list[tuple[str, int, int]] = []
    hashed: list[int] = []
    assert list(fsck(repo, progress=lambda *a: calls.append(a),
                     byte_progress=hashed.append)) == []
    total = len(list(repo.store))
    repo.close()
    assert [n for _, n, _ in calls] == list(range(1, total + 1))
    assert {t for _, _, t in calls} == {total}
    stored = sum(p.stat().st_size for p in (project / ".repro/objects").rglob("*") if p.is_file())
    assert sum(hashed) == stored  # every byte of every object was re-read
