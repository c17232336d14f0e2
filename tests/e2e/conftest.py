"""The real ComfyUI in the test loop: one server per session, fresh folders per test.

Every test here skips when there is no ComfyUI source (``server.HOW_TO`` says
how to point at one) or its venv cannot be built; under ``.ci/run``
(``COMFYUI_E2E_REQUIRED=1``) the latter is an error instead.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e import server as srv
from tests.e2e.helpers import repro

_counter = itertools.count(1)


def _unavailable(exc: srv.Unavailable) -> None:
    if srv.REQUIRED and srv.SOURCE is not None:
        pytest.fail(f"COMFYUI_E2E_REQUIRED is set: {exc}", pytrace=False)
    pytest.skip(str(exc))


@pytest.fixture(scope="session")
def comfy_tree() -> Path:
    try:
        return srv.source_tree()
    except srv.Unavailable as exc:
        _unavailable(exc)
        raise


@pytest.fixture(scope="session")
def comfy_python(comfy_tree: Path) -> Path:
    try:
        return srv.python_for(comfy_tree)
    except srv.Unavailable as exc:
        _unavailable(exc)
        raise


@pytest.fixture
def own_server(comfy_tree: Path, comfy_python: Path,
               tmp_path: Path) -> Iterator[Callable[[], srv.Server]]:
    """Makes servers of the test's own (not started), for tests that restart one.

    Each gets its own copy of the source with the toy model and input image;
    all are stopped when the test ends.
    """
    servers: list[srv.Server] = []

    def new() -> srv.Server:
        server = srv.Server.prepare(comfy_tree, comfy_python, tmp_path / f"ComfyUI-{len(servers)}")
        servers.append(server)
        return server

    try:
        yield new
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(scope="session")
def session_server(comfy_tree: Path, comfy_python: Path,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[srv.Server]:
    server = srv.Server.prepare(comfy_tree, comfy_python,
                                tmp_path_factory.mktemp("session") / "ComfyUI")
    try:
        server.start()
    except srv.Unavailable as exc:
        _unavailable(exc)
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Comfy:
    """The session server seen by one test: its own output subfolder, names and models."""

    server: srv.Server
    tag: str
    created: list[Path] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def outdir(self) -> Path:
        return self.server.output / self.tag

    def prefix(self, name: str = "out") -> str:
        """A SaveImage ``filename_prefix`` that saves into this test's subfolder."""
        return f"{self.tag}/{name}"

    def name(self, stem: str) -> str:
        return f"{self.tag}_{stem}"

    def model(self, name: str, version: int = 1, *, keep_mtime: bool = False) -> Path:
        """Write toy model v1 or v2 as ``models/upscale_models/NAME``.

        With ``keep_mtime`` the file replaced keeps its mtime, as after ``cp -p`` or
        ``rsync -a`` of a file with that date, or a download manager that sets it.
        """
        source = srv.FIXTURES / ("tiny_compact_x2.safetensors" if version == 1
                                 else "tiny_compact_x2_v2.safetensors")
        path = self.server.models / name
        before = path.stat() if keep_mtime else None
        shutil.copyfile(source, path)
        if before is not None:
            os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        self._remember(path)
        return path

    def input(self, name: str, source: Path = srv.FIXTURES / "repro_input.png") -> Path:
        path = self.server.input / name
        shutil.copyfile(source, path)
        self._remember(path)
        return path

    def _remember(self, path: Path) -> None:
        if path not in self.created:
            self.created.append(path)

    def cleanup(self) -> None:
        shutil.rmtree(self.outdir, ignore_errors=True)
        for path in self.created:
            path.unlink(missing_ok=True)


def _prepare(server: srv.Server, request: pytest.FixtureRequest) -> Comfy:
    # History and caches are the server's whole memory: clear both, so a test sees only
    # its own jobs (the watcher takes every history entry) and no loader of another test.
    server.clear_history()
    server.free()
    test = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[:40]
    return Comfy(server, f"e2e{next(_counter):03d}_{test}")


@pytest.fixture
def comfy(session_server: srv.Server, request: pytest.FixtureRequest) -> Iterator[Comfy]:
    """The session server, cleared for this test; its files are removed afterwards."""
    comfy = _prepare(session_server, request)
    try:
        yield comfy
    finally:
        comfy.cleanup()


def init_project(where: Path, server: srv.Server) -> Path:
    """``repro init`` a project whose config points at the server's ComfyUI folder."""
    where.mkdir(parents=True)
    (where / ".reprorc").write_text(f'[comfyui]\nroot = "{server.root}"\nurl = "{server.url}"\n')
    repro(where, "init")
    return where


@pytest.fixture
def project(tmp_path: Path, comfy: Comfy) -> Path:
    """A repository configured for the session server (model root, input and output folders)."""
    return init_project(tmp_path / "proj", comfy.server)
