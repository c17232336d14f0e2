"""``dvc push`` and ``dvc pull`` of the same files, for ``bench_remote.py`` to compare with.

A DVC repository (``dvc init --no-scm``, DVC's defaults otherwise: copy cache,
4 jobs per core) holds the records' outputs under ``data/outputs/`` and the
model files under ``data/models/``, tracked as one directory (``dvc add data``),
with an S3 remote at the same SeaweedFS endpoint (``endpointurl``; credentials
from the environment, as for repro). DVC has no records or metadata blobs: it
moves only the outputs and models, fewer objects than repro does.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from repro.api.repository import Repository

Step = Callable[..., dict[str, Any]]


class DvcSide:
    def __init__(self, exe: str, root: Path, endpoint: str, run_step: Step):
        self.exe, self.root, self.endpoint, self.run_step = exe, root, endpoint, run_step
        os.environ["DVC_NO_ANALYTICS"] = "1"

    def dvc(self, cwd: Path, *args: str) -> dict[str, Any]:
        return self.run_step([self.exe, *args], cwd)

    def export(self, repo: Repository, outputs: dict[str, str], models: list[str],
               dest: Path) -> None:
        """The files as a user has them: copies of the outputs, links to the models."""
        for rel, oid in outputs.items():
            target = dest / "data" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(repo.store.path(oid), target)
        for k, oid in enumerate(models):
            target = dest / "data" / "models" / f"base{k}.safetensors"
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.link(repo.store.path(oid), target)

    def run(self, repo: Repository, outputs: dict[str, str], models: list[str],
            first_new: int) -> dict[str, Any]:
        a, b = self.root / "a", self.root / "b"
        old = {k: v for k, v in outputs.items() if int(Path(k).stem) < first_new}
        new = {k: v for k, v in outputs.items() if k not in old}
        a.mkdir(parents=True)
        self.export(repo, old, models, a)
        self.dvc(a, "init", "--no-scm", "-q")
        self.dvc(a, "remote", "add", "-d", "store", "s3://bench-dvc/store")
        self.dvc(a, "remote", "modify", "store", "endpointurl", self.endpoint)
        res: dict[str, Any] = {"version": self.dvc_version(a), "files": len(old) + len(models)}
        res["add"] = self.dvc(a, "add", "-q", "data")
        res["push"] = self.dvc(a, "push", "-q")
        res["push_nothing_new"] = self.dvc(a, "push", "-q")
        b.mkdir()
        self.dvc(b, "init", "--no-scm", "-q")
        shutil.copyfile(a / ".dvc" / "config", b / ".dvc" / "config")
        shutil.copyfile(a / "data.dvc", b / "data.dvc")
        res["pull"] = self.dvc(b, "pull", "-q")
        self.export(repo, new, models, a)
        res["add_new"] = self.dvc(a, "add", "-q", "data")
        res["push_new"] = self.dvc(a, "push", "-q")
        shutil.copyfile(a / "data.dvc", b / "data.dvc")
        res["pull_new"] = self.dvc(b, "pull", "-q")
        res["pulled_files"] = sum(1 for p in (b / "data").rglob("*") if p.is_file())
        shutil.rmtree(self.root)
        return res

    def dvc_version(self, cwd: Path) -> str:
        self.dvc(cwd, "--version")
        return (cwd / "step.log").read_text().strip()
