"""Shared test fixtures: a clean environment, the vendored corpus and recordings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from tests.paths import COMFYUI, CORPUS, GPU_ENV

# No per-example deadline (this machine is shared: timing is noise). Under CI the
# examples are derived from the test source, so a run is repeatable; locally each
# run explores new examples.
settings.register_profile("repro", deadline=None)
settings.register_profile("ci", parent=settings.get_profile("repro"), derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "repro")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", help="run the long tests too")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="long test: run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never see the developer's HOME, config or REPRO_* variables."""
    for name in list(os.environ):
        if name.startswith("REPRO_"):
            monkeypatch.delenv(name)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))


@pytest.fixture
def corpus() -> Path:
    """tests/fixtures/corpus: real generators' files, with EXPECTED.json."""
    return CORPUS


@pytest.fixture
def comfy_fixtures() -> Path:
    """tests/fixtures/comfyui-0.3.64: a real ComfyUI server's outputs and answers."""
    return COMFYUI


@pytest.fixture
def gpu_fixtures() -> Path:
    """tests/fixtures/gpu-env-h100: environment-probe output from an H100 machine."""
    return GPU_ENV


@pytest.fixture
def project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A project with a checkpoint and a LoRA under models/, and a repository."""
    from tests.helpers import make_project, run

    root = tmp_path / "proj"
    root.mkdir()
    make_project(root)
    assert run(capsys, "-C", root, "init")[0] == 0
    return root
