"""repro runs where ``fcntl`` does not exist (Windows): importing it, reading metadata and
the read-only commands, and a capture under the portable lock.

Each case runs in a subprocess whose ``sitecustomize`` blocks ``import fcntl`` (a
meta-path finder) and removes what Windows lacks from ``os`` (``O_DIRECTORY``,
``preadv``, ``pwrite``...), so the code paths taken are the ones Windows takes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from repro.api.repository import Repository
from tests.helpers import make_output, make_project

BLOCKER = '''
import os, sys

class _NoFcntl:
    def find_spec(self, name, path=None, target=None):
        if name == "fcntl":
            raise ModuleNotFoundError("No module named 'fcntl' (blocked: a Windows-like test)")
        return None

sys.meta_path.insert(0, _NoFcntl())
sys.modules.pop("fcntl", None)
for name in ("O_DIRECTORY", "preadv", "pwritev", "pwrite", "sync"):
    if hasattr(os, name):
        delattr(os, name)
'''

SRC = Path(__file__).resolve().parents[2] / "src"


def _run(site: Path, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPRO_")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(SRC)])
    return subprocess.run([sys.executable, "-c", "import sys; from repro.cli import main; "
                           "sys.exit(main(sys.argv[1:]))", *map(str, args)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(BLOCKER)
    return folder


def test_the_blocker_blocks(site: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(site)}
    probe = subprocess.run([sys.executable, "-c", "import fcntl"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert probe.returncode != 0 and "fcntl" in probe.stderr


def test_import_and_read_only_commands_without_fcntl(site: Path, tmp_path: Path) -> None:
    project = tmp_path / "p"
    Repository.init(project)
    make_project(project)
    out = make_output(project, "a.png", seed=1)
    # Captured by a normal process; then read where fcntl is missing.
    Repository.discover(project)
    from tests.helpers import repro_subprocess

    assert repro_subprocess("add", out, cwd=project).returncode == 0
    result = _run(site, "inspect", out, cwd=project)
    assert result.returncode == 0, result.stderr
    assert "comfyui" in result.stdout
    for args in (["log"], ["show", "outputs/a.png"], ["verify", "outputs/a.png"],
                 ["models"], ["diff", "outputs/a.png", "--now"], ["--help"]):
        result = _run(site, *args, cwd=project)
        assert result.returncode == 0, (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_capture_and_checkout_under_the_portable_lock(site: Path, tmp_path: Path) -> None:
    project = tmp_path / "p"
    Repository.init(project)
    make_project(project)
    out = make_output(project, "a.png", seed=1)
    result = _run(site, "add", out, cwd=project)
    assert result.returncode == 0, result.stderr
    assert not (project / ".repro" / "lock.excl").exists()  # released
    (project / "models/loras/style.safetensors").unlink()
    result = _run(site, "checkout", "outputs/a.png", cwd=project)
    assert result.returncode == 0, result.stderr
    assert (project / "models/loras/style.safetensors").is_file()


def test_a_held_side_file_lock_is_waited_for_and_a_stale_one_taken_over(
        site: Path, tmp_path: Path) -> None:
    import socket

    project = tmp_path / "p"
    Repository.init(project)
    make_project(project)
    out = make_output(project, "a.png", seed=1)
    excl = project / ".repro" / "lock.excl"
    excl.write_text(f"{socket.gethostname()} {os.getpid()}")  # this test process: alive
    result = _run(site, "add", out, "--lock-timeout", "0.2", cwd=project)
    assert result.returncode == 6, result.stderr
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    excl.write_text(f"{socket.gethostname()} {dead}")  # a process that is gone
    result = _run(site, "add", out, "--lock-timeout", "2", cwd=project)
    assert result.returncode == 0, result.stderr


def test_the_windows_lock_takes_one_byte_past_the_content(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """``msvcrt.locking`` as Windows has it: a second locker of the byte is refused."""
    from repro.objects import platform

    held: set[tuple[str, int]] = set()

    class FakeMsvcrt:
        LK_NBLCK, LK_UNLCK = 2, 0

        @staticmethod
        def locking(fd: int, mode: int, n: int) -> None:
            key = (os.readlink(f"/proc/self/fd/{fd}"), os.lseek(fd, 0, os.SEEK_CUR))
            if mode == FakeMsvcrt.LK_UNLCK:
                held.discard(key)
            elif key in held:
                raise PermissionError(13, "Permission denied")
            else:
                held.add(key)

    monkeypatch.setattr(platform, "fcntl", None)
    monkeypatch.setattr(platform, "msvcrt", FakeMsvcrt)
    path = tmp_path / "lock"
    a = os.open(path, os.O_RDWR | os.O_CREAT)
    b = os.open(path, os.O_RDWR)
    try:
        platform.lock_nonblocking(a, path)
        with pytest.raises(BlockingIOError):
            platform.lock_nonblocking(b, path)
        platform.write_at_start(a, b"pid 1\n")
        assert path.read_bytes() == b"pid 1\n"  # the locked byte is past the content
        platform.unlock(a, path)
        platform.lock_nonblocking(b, path)
    finally:
        os.close(a)
        os.close(b)
