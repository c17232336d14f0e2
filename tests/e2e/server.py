"""A real ComfyUI server for the end-to-end tests: source, venv, process, HTTP.

Nothing here imports repro. The source is the vendored tarball
(``../shared/vendor/ComfyUI-0.3.64-a125cd84.tar.gz``) or the ComfyUI checkout
or tarball named by ``COMFYUI_SOURCE``. The venv is built once per
requirements and cached under ``$COMFYUI_E2E_CACHE``, else
``$XDG_CACHE_HOME/repro-e2e``, else ``~/.cache/repro-e2e`` (resolved when this
module is imported, before the tests' ``clean_env`` replaces HOME);
``COMFYUI_PYTHON`` names an existing interpreter with ComfyUI's requirements
instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
VENDOR = SHARED / "vendor"
TARBALL = VENDOR / "ComfyUI-0.3.64-a125cd84.tar.gz"
LOCK = VENDOR / "comfyui-0.3.64-cpu-requirements.lock.txt"
FIXTURES = SHARED / "fixtures" / "comfyui-0.3.64"
#: The BLAKE3 of the two versions of the fixture upscale model the tests swap in.
V1 = "f52895d01b5349be40b1aa603cd9cbce1f6d67e54f5e49aa9368ee5ac4c7198d"
V2 = "8715f92eac085129a6eed7563094363f28df61be82c07ca5ff30c51a363bf88d"
#: What the vendor README's recipe installs first (the +cpu build does not work here).
TORCH = ("torch==2.14.1", "torchvision==0.29.1")


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else None


# Read once, at import: the tests' autouse fixture replaces HOME for every test.
SOURCE = _env_path("COMFYUI_SOURCE") or (TARBALL if TARBALL.is_file() else None)
PYTHON = _env_path("COMFYUI_PYTHON")
CACHE = (_env_path("COMFYUI_E2E_CACHE")
         or (_env_path("XDG_CACHE_HOME") or Path.home() / ".cache") / "repro-e2e")
#: Set by .ci/run: a venv that cannot be built is an error there, not a skip.
REQUIRED = os.environ.get("COMFYUI_E2E_REQUIRED", "") not in ("", "0")
HOW_TO = ("no ComfyUI source: put ComfyUI-0.3.64-a125cd84.tar.gz in ../shared/vendor/, or set "
          "COMFYUI_SOURCE=/path/to/ComfyUI (a checkout or a .tar.gz)")


class Unavailable(Exception):
    """The server cannot be had here (no source, no venv); the message says why."""


class Broken(RuntimeError):
    """The set-up went wrong (a job failed, a command exited non-zero).

    Not an AssertionError on purpose: the known-bad tests expect an
    AssertionError from their claim about repro, never from their set-up.
    """


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()[:16]


def _lock(path: Path) -> contextlib.AbstractContextManager[Any]:
    """An exclusive flock on ``path`` (several pytest sessions may share the cache)."""
    @contextlib.contextmanager
    def held() -> Iterator[None]:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
    return held()


def source_tree() -> Path:
    """The ComfyUI source folder (a tarball is extracted once into the cache)."""
    if SOURCE is None:
        raise Unavailable(HOW_TO)
    if SOURCE.is_dir():
        if not (SOURCE / "main.py").is_file():
            raise Unavailable(f"COMFYUI_SOURCE={SOURCE} has no main.py; {HOW_TO}")
        return SOURCE
    if not SOURCE.is_file():
        raise Unavailable(f"{SOURCE} does not exist; {HOW_TO}")
    key = _digest(SOURCE.read_bytes())
    dest = CACHE / f"src-{key}"
    with _lock(CACHE / f"src-{key}.lock"):
        if not (dest / ".complete").is_file():
            shutil.rmtree(dest, ignore_errors=True)
            dest.mkdir(parents=True)
            with tarfile.open(SOURCE) as tar:
                tar.extractall(dest, filter="data")
            (dest / ".complete").write_text("")
    tops = [p for p in dest.iterdir() if p.is_dir()]
    found = [p for p in tops if (p / "main.py").is_file()]
    if not found:
        raise Unavailable(f"{SOURCE} holds no ComfyUI/main.py")
    return found[0]


def _version(tree: Path) -> str | None:
    text = (tree / "comfyui_version.py").read_text() if (tree / "comfyui_version.py").is_file() \
        else ""
    for line in text.splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    return None


@dataclass
class BuildLog:
    seconds: float = 0.0
    built: bool = False


BUILD = BuildLog()


def python_for(tree: Path) -> Path:
    """A Python with ComfyUI's requirements: ``COMFYUI_PYTHON``, or a cached venv.

    The venv is keyed by the requirements, the lock file, the torch pins and
    this Python's version; it is built under a lock and marked complete only
    at the end, so an interrupted build is redone, never used.
    """
    if PYTHON is not None:
        return PYTHON
    requirements = (tree / "requirements.txt").read_bytes()
    # The lock was frozen from a venv that ran 0.3.64: it pins that version's
    # dependencies (a different checkout gets its own requirements unpinned).
    pinned = LOCK.is_file() and _version(tree) == "0.3.64"
    lock = LOCK.read_bytes() if pinned else b""
    key = _digest(requirements, lock, " ".join(TORCH).encode(),
                  f"{sys.version_info[0]}.{sys.version_info[1]}".encode())
    venv = CACHE / f"venv-{key}"
    python = venv / "bin" / "python"
    with _lock(CACHE / f"venv-{key}.lock"):
        if (venv / ".complete").is_file():
            return python
        started = time.monotonic()
        shutil.rmtree(venv, ignore_errors=True)
        log = CACHE / f"venv-{key}.log"
        steps = [[sys.executable, "-m", "venv", str(venv)],
                 [str(python), "-m", "pip", "install", *TORCH],
                 [str(python), "-m", "pip", "install", "-r", str(tree / "requirements.txt"),
                  "requests", *(["-c", str(LOCK)] if pinned else [])]]
        with open(log, "w") as out:
            for step in steps:
                out.write(f"$ {' '.join(step)}\n")
                out.flush()
                code = subprocess.call(step, stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL,
                                       env={**os.environ, "PIP_PROGRESS_BAR": "off"})
                if code != 0:
                    tail = log.read_text(errors="replace").strip().splitlines()[-3:]
                    raise Unavailable(f"could not build the ComfyUI venv ({' '.join(step[-3:])} "
                                      f"exited {code}; log {log}): {' / '.join(tail)}")
        (venv / ".complete").write_text(json.dumps({"seconds": time.monotonic() - started}))
        BUILD.seconds, BUILD.built = time.monotonic() - started, True
    return python


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- HTTP ---------------------------------------------------------------------------------


def http(url: str, data: Any = None, *, timeout: float = 30.0) -> Any:
    """GET (``data`` None) or POST JSON; the decoded JSON answer (None when empty)."""
    body = None if data is None else json.dumps(data).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        raw = answer.read()
    return json.loads(raw) if raw.strip() else None


# -- the server process -------------------------------------------------------------------


@dataclass
class Server:
    """One ComfyUI process serving the folder ``root`` (a copy of the source tree)."""

    root: Path
    python: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    started_in: float = 0.0
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def output(self) -> Path:
        return self.root / "output"

    @property
    def input(self) -> Path:
        return self.root / "input"

    @property
    def models(self) -> Path:
        return self.root / "models" / "upscale_models"

    @classmethod
    def prepare(cls, tree: Path, python: Path, where: Path) -> Server:
        """Copy the source to ``where`` with the toy models and the input image in place."""
        shutil.copytree(tree, where, ignore=shutil.ignore_patterns(".complete", "__pycache__"))
        server = cls(where, python)
        server.models.mkdir(parents=True, exist_ok=True)
        server.input.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FIXTURES / "tiny_compact_x2.safetensors",
                        server.models / "tiny_compact_x2.safetensors")
        shutil.copyfile(FIXTURES / "repro_input.png", server.input / "repro_input.png")
        return server

    def start(self, *, timeout: float = 180.0) -> None:
        """Start ``main.py`` and wait until ``GET /system_stats`` answers."""
        started = time.monotonic()
        log = open(self.root / f"server-{self.starts}.log", "wb")  # noqa: SIM115 (kept by Popen)
        self.starts += 1
        self.proc = subprocess.Popen(
            [str(self.python), "main.py", "--cpu", "--listen", "127.0.0.1",
             "--port", str(self.port), "--disable-auto-launch"],
            cwd=self.root, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**{k: v for k, v in os.environ.items() if not k.startswith("REPRO_")},
                 "PYTHONUNBUFFERED": "1"})
        log.close()
        while True:
            if self.proc.poll() is not None:
                raise Unavailable(f"ComfyUI exited with {self.proc.returncode} while starting: "
                                  f"{self.log_tail()}")
            try:
                http(self.url + "/system_stats", timeout=2)
                break
            except (OSError, ValueError):
                pass
            if time.monotonic() - started > timeout:
                self.stop()
                raise Unavailable(f"ComfyUI did not answer within {timeout:.0f} s: "
                                  f"{self.log_tail()}")
            time.sleep(0.25)
        self.started_in = time.monotonic() - started

    def log_tail(self, lines: int = 5) -> str:
        logs = sorted(self.root.glob("server-*.log"))
        text = logs[-1].read_text(errors="replace") if logs else ""
        return " / ".join(text.strip().splitlines()[-lines:])

    def stop(self, *, grace: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds, to this server's own process."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)

    def restart(self) -> None:
        """Stop, then start again on the same port (the same URL, as a user's restart)."""
        self.stop()
        self.start()

    # -- jobs --

    def submit(self, body: dict[str, Any]) -> str:
        """POST /prompt; the prompt id (a validation error fails the test)."""
        answer = http(self.url + "/prompt", body)
        if answer.get("node_errors") or "prompt_id" not in answer:
            raise Broken(f"POST /prompt refused the job: {answer}")
        return str(answer["prompt_id"])

    def wait(self, prompt_id: str, *, timeout: float = 120.0) -> dict[str, Any]:
        """The history entry of ``prompt_id`` once the job has finished."""
        deadline = time.monotonic() + timeout
        while True:
            entry = http(f"{self.url}/history/{prompt_id}").get(prompt_id)
            if entry and entry.get("status", {}).get("completed") is not None \
                    and (entry["status"].get("completed") or
                         entry["status"].get("status_str") == "error"):
                return dict(entry)
            if time.monotonic() > deadline:
                raise TimeoutError(f"prompt {prompt_id} did not finish in {timeout} s")
            time.sleep(0.05)

    def run(self, body: dict[str, Any]) -> dict[str, Any]:
        """Submit and wait; the finished history entry (a failed job fails the test)."""
        entry = self.wait(self.submit(body))
        if entry["status"]["status_str"] != "success":
            raise Broken(f"the job failed: {entry['status']}")
        return entry

    def free(self) -> None:
        """POST /free: unload models and reset the execution cache, before any later job.

        The worker reads the flags /free sets only after its next ``get`` from
        the queue returns: a job queued right after /free may run first, on the
        old cache. A job that needs no cache is queued and waited for, so the
        flags have been handled before anything queued after it.
        """
        http(self.url + "/free", {"unload_models": True, "free_memory": True})
        self.run({"client_id": "repro-e2e-free", "prompt": {
            "1": {"class_type": "EmptyImage",
                  "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
            "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}}})

    def clear_history(self) -> None:
        http(self.url + "/history", {"clear": True})

    def output_files(self, entry: dict[str, Any]) -> list[Path]:
        """The files a finished job saved to the output folder, in node order."""
        files = []
        for _node, out in sorted(entry.get("outputs", {}).items()):
            for image in out.get("images", []):
                if image.get("type") == "output":
                    files.append(self.output / image["subfolder"] / image["filename"])
        return files


def start_server(tree: Path, python: Path, where: Path) -> Server:
    server = Server.prepare(tree, python, where)
    server.start()
    return server


if __name__ == "__main__":  # build the venv and start once, for timing: python -m tests.e2e.server
    import tempfile

    t0 = time.monotonic()
    tree = source_tree()
    py = python_for(tree)
    print(f"venv ready in {time.monotonic() - t0:.1f} s (built: {BUILD.built}) at {py}")
    with tempfile.TemporaryDirectory() as scratch:
        srv = start_server(tree, py, Path(scratch) / "ComfyUI")
        print(f"server answered in {srv.started_in:.1f} s at {srv.url}")
        srv.stop()
