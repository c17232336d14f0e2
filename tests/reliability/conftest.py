"""Fixtures of the reliability tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def fast_tmp(tmp_path: Path) -> Iterator[Path]:
    """A scratch folder in memory (/dev/shm) when there is one, else ``tmp_path``.

    The crash tests start hundreds of processes that each sync the disk; on a
    tmpfs a sync costs nothing, and a SIGKILL leaves exactly the same state
    (the page cache outlives the process), so nothing is lost to the test.
    """
    shm = Path("/dev/shm")
    if not (shm.is_dir() and shm.stat().st_mode & 0o002):
        yield tmp_path
        return
    path = Path(tempfile.mkdtemp(prefix="repro-test-", dir=shm))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
