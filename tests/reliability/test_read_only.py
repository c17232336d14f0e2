"""A read-only store (a teammate's, a backup, a mount) can be read, and a writer
is told the truth (issue 13, item 9)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.helpers import file_states, make_output, repro_subprocess, run, run_json

Capsys = pytest.CaptureFixture[str]


@pytest.fixture
def read_only(project: Path, capsys: Capsys, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """The project, captured, seen through a read-only bind mount."""
    for seed in (1, 2):
        make_output(project, f"o{seed}.png", seed=seed)
    rid = run_json(capsys, "-C", project, "add", project / "outputs", "--no-env")["records"][0]["id"]
    mnt = tmp_path / "ro"
    mnt.mkdir()
    bind = subprocess.run(["mount", "--bind", str(project), str(mnt)], capture_output=True,
                          text=True)
    if bind.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {bind.stderr.strip()}")
    try:
        ro = subprocess.run(["mount", "-o", "remount,bind,ro", str(mnt)], capture_output=True,
                            text=True)
        if ro.returncode != 0:
            pytest.skip(f"cannot remount read-only here: {ro.stderr.strip()}")
        yield mnt, rid
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


@pytest.mark.parametrize("index", ["kept", "deleted"])
def test_readers_work_on_a_read_only_store(project: Path, read_only: tuple[Path, str],
                                           index: str) -> None:
    mnt, rid = read_only
    if index == "deleted":  # through the writable path: the mount sees it at once
        for suffix in ("", "-wal", "-shm"):
            (project / f".repro/index.sqlite{suffix}").unlink(missing_ok=True)
    for args in (("show", "outputs/o1.png"), ("show", rid), ("log",), ("verify", rid),
                 ("diff", "outputs/o1.png", "outputs/o2.png"), ("models",),
                 ("uses", "models/checkpoints/base.safetensors")):
        proc = repro_subprocess(*args, "--json", cwd=mnt)
        assert proc.returncode in (0, 1) and proc.stdout, (args, proc.stderr)
        assert "readonly database" not in proc.stderr and "disk" not in proc.stderr, proc.stderr
        orjson.loads(proc.stdout)
    proc = repro_subprocess("fsck", "--json", cwd=mnt)
    assert "--repair" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_writer_is_told_the_store_is_read_only(read_only: tuple[Path, str],
                                                 capsys: Capsys) -> None:
    mnt, _ = read_only
    make_output(mnt.parent, "new.png", seed=9)  # outside the mount: readable
    proc = repro_subprocess("add", mnt.parent / "outputs/new.png", "--no-env", cwd=mnt)
    assert proc.returncode != 0
    assert "read-only" in proc.stderr and "disk" not in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    code, _, err = run(capsys, "-C", mnt, "gc")
    assert code != 0 and "read-only" in err



def test_identify_on_a_read_only_store(project: Path, read_only: tuple[Path, str],
                                       tmp_path: Path) -> None:
    """Outputs captured before fingerprints existed get theirs computed for the
    lookup; the read-only store answers and nothing in it changes (issue 19)."""
    from PIL import Image

    from repro.api.repository import Repository

    mnt, _ = read_only
    repo = Repository.discover(project)  # through the writable path
    with repo.index.conn:
        repo.index.conn.execute("DELETE FROM output_prints")
        repo.index.conn.execute("DELETE FROM meta WHERE key = 'prints_checked'")
    rid = repo.index.record_for_output(repo.resolve_target("outputs/o2.png",
                                                           cwd=project).output.blake3)
    repo.close()
    with Image.open(project / "outputs/o2.png") as im:
        im.convert("RGB").save(tmp_path / "copy.jpg", quality=70)
    before = file_states(project / ".repro")
    proc = repro_subprocess("identify", tmp_path / "copy.jpg", "--json", cwd=mnt)
    assert proc.returncode == 0, proc.stderr
    assert orjson.loads(proc.stdout)[0]["id"] == rid
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    assert file_states(project / ".repro") == before
