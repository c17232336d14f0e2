"""The ``repro`` program (``cli.run``) freezes its objects from the cycle collector
(whose passes over them at exit cost a one-image ``add`` about 10 ms): what a
command opened is still closed, the index checkpointed, when the process ends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import repro
from tests.helpers import make_output, make_project

SRC = str(Path(repro.__file__).resolve().parents[1])


def _repro(root: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPRO_")}
    env.update(PYTHONPATH=SRC, HOME=str(root))
    return subprocess.run([sys.executable, "-c", "from repro.cli import run; run()",
                           *map(str, args)], cwd=root, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_an_add_leaves_the_index_checkpointed_and_its_record_readable(tmp_path: Path) -> None:
    make_project(tmp_path)
    assert _repro(tmp_path, "init").returncode == 0
    done = _repro(tmp_path, "add", make_output(tmp_path, "a.png", seed=1))
    assert done.returncode == 0, done.stderr
    # The connection was closed (SQLite checkpoints and removes its WAL on close).
    assert not (tmp_path / ".repro" / "index.sqlite-wal").exists()
    shown = _repro(tmp_path, "log", "--json")
    assert shown.returncode == 0 and "a.png" in shown.stdout
