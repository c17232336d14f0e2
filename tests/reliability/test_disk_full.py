"""A write that fails for lack of space or permission leaves the store
consistent and says what happened in one line, without a traceback."""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import pytest

from repro.api.maintenance import fsck
from repro.api.repository import Repository
from repro.demo import model_bytes, set_mtime, write_safetensors
from repro.lineage.index import Index
from repro.objects import copying, store
from repro.objects.hashing import hash_file
from tests.helpers import make_output, repro_subprocess, run

Capsys = pytest.CaptureFixture[str]


def _problems(root: Path) -> list[str]:
    repo = Repository(root)
    try:
        return [p.kind for p in fsck(repo)]
    finally:
        repo.close()


def _one_error_line(err: str, words: str) -> None:
    lines = [line for line in err.splitlines() if not line.startswith("repro: ")]
    assert lines[0].startswith("error: ") and words in lines[0], err
    assert "Traceback" not in err and len(lines) <= 2


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs of our own (root only; skipped where mounting is not allowed)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_a_full_disk_during_add(small_fs: Path) -> None:
    root = small_fs / "proj"
    root.mkdir()
    ckpt = write_safetensors(root / "models/checkpoints/base.safetensors",
                             model_bytes(1, 1_200_000))
    set_mtime(ckpt, 7200)
    before = hash_file(ckpt)
    out = make_output(root, "o.png", seed=1, lora=None)
    assert repro_subprocess("init", cwd=root).returncode == 0
    proc = repro_subprocess("add", out, "--no-env", cwd=root)
    assert proc.returncode != 0
    _one_error_line(proc.stderr, "No space left on device")
    assert hash_file(ckpt) == before
    assert list((root / ".repro/tmp").iterdir()) == []
    assert set(_problems(root)) <= {"tmp"}
    # Room again (the model goes elsewhere): the same command completes.
    ckpt.unlink()
    write_safetensors(ckpt, model_bytes(1, 100_000))
    proc = repro_subprocess("add", out, "--no-env", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert _problems(root) == []


@pytest.fixture
def project(project: Path, capsys: Capsys) -> Path:
    """The shared project (tests/conftest.py) with outputs made for these tests."""
    make_output(project, "o.png", seed=1)
    return project


def test_enospc_while_copying_a_model(project: Path, capsys: Capsys,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    real = copying.copy_and_hash

    def fills_up(src: BinaryIO, dst: BinaryIO, *args: Any, **kw: Any) -> tuple[str, int]:
        dst.write(src.read(1000))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(copying, "copy_and_hash", fills_up)
    code, _, err = run(capsys, "-C", project, "add", "outputs/o.png", "--no-env")
    assert code == 1
    _one_error_line(err, "No space left on device")
    assert list((project / ".repro/tmp").iterdir()) == []
    assert _problems(project) == []
    monkeypatch.setattr(copying, "copy_and_hash", real)
    assert run(capsys, "-C", project, "add", "outputs/o.png", "--no-env")[0] == 0
    assert _problems(project) == []


def test_permission_denied_writing_the_record(project: Path, capsys: Capsys,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    real = store.ObjectStore.put_bytes

    def denied(self: store.ObjectStore, data: bytes, **kw: Any) -> Any:
        if kw.get("group") == 1:  # records
            raise PermissionError(errno.EACCES, "Permission denied", str(self.objects_dir))
        return real(self, data, **kw)

    monkeypatch.setattr(store.ObjectStore, "put_bytes", denied)
    code, _, err = run(capsys, "-C", project, "add", "outputs/o.png", "--no-env")
    assert code == 1
    _one_error_line(err, "Permission denied")
    # Objects without a record are only unreferenced (gc's), never a problem.
    assert _problems(project) == []
    repo = Repository(project)
    assert list(repo.iter_record_objects()) == []
    repo.close()


def test_a_full_disk_while_indexing_is_healed_by_the_next_writer(
        project: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(self: Index, *records: Any) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Index, "add_many", full)
    code, _, err = run(capsys, "-C", project, "add", "outputs/o.png", "--no-env")
    assert code == 1
    _one_error_line(err, "database or disk is full")
    assert _problems(project) == ["tmp"]  # stored, journaled, not yet indexed
    monkeypatch.undo()
    code, out, err = run(capsys, "-C", project, "add", "outputs/o.png", "--no-env")
    assert code == 0 and "known" in out
    assert "indexed 1 record(s) that an interrupted writer had stored" in err
    assert _problems(project) == []


def _fill(folder: Path, leave: int) -> None:
    """Take every byte of the file system but about ``leave``."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while os.write(fd, b"\1" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    if leave:
        size = (folder / "filler").stat().st_size
        os.truncate(folder / "filler", max(0, size - leave))


@pytest.mark.parametrize("leave", [0, 8192])
def test_readers_and_gc_work_on_a_full_disk(small_fs: Path, leave: int) -> None:
    """Issue 13 item 7: every reader answers, gc (which frees space) runs, and no
    command dies by a signal."""
    root = small_fs / "proj"
    root.mkdir()
    ckpt = write_safetensors(root / "models/checkpoints/base.safetensors",
                             model_bytes(1, 100_000))
    set_mtime(ckpt, 7200)
    outs = [make_output(root, f"o{n}.png", seed=n, lora=None) for n in (1, 2)]
    assert repro_subprocess("init", cwd=root).returncode == 0
    proc = repro_subprocess("add", *outs, "--no-env", "--json", cwd=root)
    assert proc.returncode == 0, proc.stderr
    rid = orjson.loads(proc.stdout)["records"][0]["id"]
    garbage = root / "garbage.bin"
    garbage.write_bytes(os.urandom(50_000))
    proc = repro_subprocess("add", garbage, "--allow-empty", "--no-env", cwd=root)
    _fill(small_fs, leave)
    for _ in range(3):
        for args in (("show", rid), ("show", "outputs/o1.png"), ("log",), ("verify", rid),
                     ("diff", "outputs/o1.png", "outputs/o2.png"), ("models",), ("fsck",),
                     ("gc", "--grace-days", "0")):
            proc = repro_subprocess(*args, "--json", cwd=root)
            assert proc.returncode >= 0, (args, proc.returncode)  # no death by a signal
            assert proc.returncode in (0, 1) and proc.stdout, (args, proc.stderr)
            assert "disk I/O error" not in proc.stderr and "Traceback" not in proc.stderr
    (small_fs / "filler").unlink()
    assert set(_problems(root)) <= {"tmp"}


@pytest.mark.parametrize("leave", [0, 8192])
def test_identify_on_a_full_disk(small_fs: Path, tmp_path: Path, leave: int) -> None:
    """Outputs captured before fingerprints existed: their fingerprints are computed
    for the lookup, which answers on a full disk; the store stays whole (issue 19)."""
    from PIL import Image

    root = small_fs / "proj"
    root.mkdir()
    outs = [make_output(root, f"o{n}.png", seed=n, lora=None) for n in (1, 2)]
    assert repro_subprocess("init", cwd=root).returncode == 0
    proc = repro_subprocess("add", *outs, "--no-env", "--allow-empty", "--json", cwd=root)
    assert proc.returncode == 0, proc.stderr
    rid = orjson.loads(proc.stdout)["records"][1]["id"]
    repo = Repository(root)
    with repo.index.conn:
        repo.index.conn.execute("DELETE FROM output_prints")
        repo.index.conn.execute("DELETE FROM meta WHERE key = 'prints_checked'")
    repo.close()
    with Image.open(outs[1]) as im:
        im.convert("RGB").save(tmp_path / "copy.jpg", quality=70)
    _fill(small_fs, leave)
    for _ in range(2):
        proc = repro_subprocess("identify", tmp_path / "copy.jpg", "--json", cwd=root)
        assert proc.returncode == 0, proc.stderr
        assert orjson.loads(proc.stdout)[0]["id"] == rid
        assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    (small_fs / "filler").unlink()
    assert _problems(root) == []
