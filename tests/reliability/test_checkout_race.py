"""checkout decides under the lock and writes without following symlinks (issue 13,
item 2): the test holds the lock while checkout waits for it, swaps the
destination, then lets go."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from repro.objects.hashing import hash_file
from repro.objects.lock import write_lock
from tests.helpers import make_output, run

Capsys = pytest.CaptureFixture[str]


def _checkout_while_locked(root: Path, swap: Callable[[], None], *args: str
                           ) -> subprocess.CompletedProcess[str]:
    """Run ``repro checkout`` while this process holds the lock; ``swap`` runs once
    checkout is waiting for it, then the lock is let go."""
    exe = Path(sys.executable).with_name("repro")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPRO_")}
    with write_lock(root / ".repro/lock", timeout=5):
        proc = subprocess.Popen([str(exe), "checkout", "outputs/o.png", "--lock-timeout", "60",
                                 *args], cwd=root, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        line = proc.stderr.readline()  # "repro: waiting for the repository lock ..."
        assert "waiting for the repository lock" in line, line
        swap()
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, line + err)


@pytest.fixture
def gone(project: Path, capsys: Capsys) -> Path:
    """A captured output whose checkpoint was deleted: checkout wants to restore it."""
    make_output(project, "o.png", seed=1)
    assert run(capsys, "-C", project, "add", "outputs/o.png", "--no-env")[0] == 0
    ckpt = project / "models/checkpoints/base.safetensors"
    ckpt.unlink()
    return ckpt


def test_a_folder_swapped_for_a_symlink_while_waiting(project: Path, gone: Path) -> None:
    outside = project.parent / "outside"
    outside.mkdir()
    folder = gone.parent

    def swap() -> None:
        folder.rename(folder.with_name("checkpoints.real"))
        folder.symlink_to(outside, target_is_directory=True)

    proc = _checkout_while_locked(project, swap)
    assert proc.returncode == 5, proc.stderr
    assert "symlink" in proc.stderr and "Traceback" not in proc.stderr
    assert list(outside.iterdir()) == []


def test_a_file_that_appears_while_waiting_is_not_overwritten(project: Path,
                                                               gone: Path) -> None:
    def swap() -> None:
        gone.write_bytes(b"the user's own file")

    proc = _checkout_while_locked(project, swap)
    assert proc.returncode == 5, proc.stderr
    assert "other content" in proc.stderr
    assert gone.read_bytes() == b"the user's own file"


def test_with_force_a_file_that_appears_while_waiting_is_stored_first(
        project: Path, gone: Path, capsys: Capsys) -> None:
    def swap() -> None:
        gone.write_bytes(b"the user's own file")

    proc = _checkout_while_locked(project, swap, "--force")
    assert proc.returncode == 0, proc.stderr
    assert "stored the displaced" in proc.stdout
    from repro.api.repository import Repository

    repo = Repository(project)
    from repro.objects.hashing import hash_bytes

    assert hash_bytes(b"the user's own file") in repo.store
    repo.close()
    assert hash_file(gone) != hash_bytes(b"the user's own file")


def test_a_symlink_that_appears_at_the_destination_is_not_written_through(
        project: Path, gone: Path) -> None:
    victim = project.parent / "victim.txt"
    victim.write_text("precious")

    def swap() -> None:
        gone.symlink_to(victim)

    for extra in ((), ("--force",)):
        proc = _checkout_while_locked(project, swap if not extra else (lambda: None), *extra)
        assert proc.returncode == 5, proc.stderr
        assert "symlink" in proc.stderr
        assert victim.read_text() == "precious"
