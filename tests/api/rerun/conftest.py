"""A project wired to the fake ComfyUI, with one seeded toy job captured."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from repro.api.comfyjob import Recipe, run_job, runner_for
from repro.api.repository import Repository
from repro.record import Record
from tests.api.rerun.fake_comfy import FakeComfy, seeded_graph, serve, workflow_for
from tests.paths import COMFYUI


@dataclass
class Toy:
    project: Path
    fake: FakeComfy
    record: Record
    out: Path

    @property
    def model(self) -> Path:
        return self.fake.models / "tiny_compact_x2.safetensors"

    def repo(self) -> Repository:
        return Repository.discover(self.project)


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeComfy]:
    with serve(tmp_path / "ComfyUI") as server:
        shutil.copyfile(COMFYUI / "tiny_compact_x2.safetensors",
                        server.models / "tiny_compact_x2.safetensors")
        shutil.copyfile(COMFYUI / "repro_input.png", server.input / "repro_input.png")
        yield server


@pytest.fixture
def toy(tmp_path: Path, fake: FakeComfy) -> Toy:
    project = tmp_path / "proj"
    project.mkdir()
    (project / ".reprorc").write_text(
        f'[comfyui]\nroot = "{fake.root}"\nurl = "{fake.url}"\n'
        '[capture]\nenvironment = false\n')
    repo = Repository.init(project)
    repo = Repository.discover(project)
    graph = seeded_graph()
    ran = run_job(repo, runner_for(repo, None), Recipe(graph, workflow_for(graph)), links=[])
    [captured] = ran.captured
    repo.close()
    return Toy(project, fake, captured.record, ran.files[0][1])
