"""One writer at a time through .repro/lock; readers never block nor see partial state."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import pytest

from repro.api.maintenance import referenced_objects
from repro.api.repository import Repository
from repro.demo import comfy_graph, write_comfy_png
from tests.helpers import make_output, make_project, repro_subprocess
from tests.reliability.harness import REPRO

Capsys = pytest.CaptureFixture[str]


def _images(folder: Path, n: int, tag: str) -> None:
    for i in range(n):
        graph = comfy_graph(ckpt="base.safetensors", lora="style.safetensors",
                            lora_strength=0.8, seed=i, prompt=f"{tag} {i}")
        write_comfy_png(folder / f"{i:04d}.png", graph, pixel_seed=i, size=(8, 8))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    make_project(root)
    assert repro_subprocess("init", cwd=root).returncode == 0
    return root


def _writers_and_readers(project: Path, per_writer: int) -> None:
    _images(project / "a", per_writer, "a")
    _images(project / "b", per_writer, "b")
    logs = {folder: (project / f"{folder}.out", project / f"{folder}.err") for folder in "ab"}
    writers = []
    for folder, (out_path, err_path) in logs.items():
        # Files, not pipes: 500 records of JSON would fill a pipe and stall the writer.
        with open(out_path, "w") as out, open(err_path, "w") as err:
            writers.append(subprocess.Popen(
                [REPRO, "add", folder, "--no-env", "--json", "--lock-timeout", "300"],
                cwd=project, stdout=out, stderr=err))
    reads = 0
    while any(w.poll() is None for w in writers):
        # A reader while the writers run: never blocked, never a record whose objects
        # are not all in place.
        proc = repro_subprocess("log", "--json", "-n", "50", cwd=project)
        assert proc.returncode == 0, proc.stderr
        repo = Repository(project)
        for entry in orjson.loads(proc.stdout):
            for oid, what in referenced_objects(repo.load_record(entry["id"])):
                assert oid in repo.store, f"reader saw record {entry['id']} without its {what}"
        repo.close()
        reads += 1
    outcomes = [(o.read_text(), e.read_text()) for o, e in logs.values()]
    for w, (stdout, stderr) in zip(writers, outcomes, strict=True):
        assert w.wait() == 0, stderr
        assert len(orjson.loads(stdout)["records"]) == per_writer
    # The one that came second waited, and said so.
    assert any("waiting for the repository lock held by pid" in err for _, err in outcomes)
    repo = Repository(project)
    assert repo.index.count() == 2 * per_writer
    repo.close()
    proc = repro_subprocess("fsck", "--json", cwd=project)
    assert proc.returncode == 0 and orjson.loads(proc.stdout)["problems"] == []
    assert reads >= 1


def test_two_writers_of_500_images_each(project: Path) -> None:
    _writers_and_readers(project, 500)


@pytest.mark.slow
def test_two_writers_of_2000_images_each(project: Path) -> None:
    _writers_and_readers(project, 2000)


@contextmanager
def _lock_held(project: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from repro.objects.lock import write_lock\n"
         "with write_lock(Path(sys.argv[1])):\n"
         "    print('held', flush=True); time.sleep(float(sys.argv[2]))",
         str(project / ".repro/lock"), str(seconds)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        yield holder
    finally:
        holder.kill()
        holder.communicate()


def test_lock_timeout_fails_with_exit_6(project: Path) -> None:
    out = make_output(project, "o.png", seed=1)
    with _lock_held(project, 30) as holder:
        proc = repro_subprocess("add", out, "--no-env", "--lock-timeout", "0.3", cwd=project)
    assert proc.returncode == 6
    lines = proc.stderr.splitlines()
    assert lines[0].startswith(f"repro: waiting for the repository lock held by pid {holder.pid}")
    assert lines[1].startswith(f"error: the repository is locked by pid {holder.pid}")
    assert lines[2].startswith("hint: ") and len(lines) == 3


@pytest.mark.parametrize("command", [["checkout", "--force"], ["gc"], ["fsck", "--repair"]])
def test_every_writer_takes_a_lock_timeout(project: Path, command: list[str]) -> None:
    out = make_output(project, "o.png", seed=1)
    assert repro_subprocess("add", out, "--no-env", cwd=project).returncode == 0
    args = [command[0], *([out] if command[0] == "checkout" else []), *command[1:]]
    with _lock_held(project, 30):
        proc = repro_subprocess(*args, "--lock-timeout", "0.3", cwd=project)
    assert proc.returncode == 6, proc.stderr
    assert "error: the repository is locked by pid" in proc.stderr


def test_a_waiting_writer_proceeds_when_the_lock_is_released(project: Path) -> None:
    out = make_output(project, "o.png", seed=1)
    # The lock is let go only once the writer says it waits: on a loaded machine
    # its start-up can take longer than any fixed hold.
    writer_args = [REPRO, "add", str(out), "--no-env", "--lock-timeout", "60"]
    with _lock_held(project, 60) as holder, \
            subprocess.Popen(writer_args, cwd=project, stderr=subprocess.PIPE, text=True,
                             stdout=subprocess.DEVNULL) as writer:
        assert writer.stderr is not None
        first = writer.stderr.readline()
        assert "waiting for the repository lock" in first, first
        holder.kill()
        holder.wait()
        rest = writer.stderr.read()
        assert writer.wait(timeout=60) == 0, first + rest
    assert Repository.discover(project).index.count() == 1
