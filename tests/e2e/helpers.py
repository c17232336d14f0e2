"""Driving repro as a user does (the ``repro`` command in a subprocess), and pixels."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import blake3
from PIL import Image

from tests.e2e.server import Broken, Server

REPRO = Path(sys.executable).with_name("repro")


def _env() -> dict[str, str]:
    # HOME is the test's own (clean_env); PYTHONPATH (the worktree's src) is passed on.
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPRO_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def repro(project: Path, *args: str | Path, check: bool = True,
          timeout: float = 180) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(REPRO), *map(str, args)], cwd=project, capture_output=True,
                          text=True, env=_env(), timeout=timeout, stdin=subprocess.DEVNULL)
    if check and done.returncode != 0:
        raise Broken(f"repro {' '.join(map(str, args))} exited {done.returncode}: "
                     f"{done.stderr}")
    return done


def repro_json(project: Path, *args: str | Path, check: bool = True) -> Any:
    return json.loads(repro(project, *args, "--json", check=check).stdout)


def events(text: str) -> list[dict[str, Any]]:
    """``watch --json`` events: JSON objects one after another (one per line or indented)."""
    decoder = json.JSONDecoder()
    found, i = [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return found
        value, i = decoder.raw_decode(text, i)
        found.append(value)


def watch_once(project: Path, server: Server) -> list[dict[str, Any]]:
    return events(repro(project, "watch", "--comfyui", server.url, "--once", "--json").stdout)


def captured(evs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Captured (or known) events by output path."""
    return {e["path"]: e for e in evs if e["event"] in ("captured", "known")}


class Watch:
    """A running ``repro watch --comfyui URL --json``; events arrive on a reader thread."""

    def __init__(self, project: Path, server: Server, *, interval: float = 0.2) -> None:
        self.project = project
        self.errors = open(project / "watch.stderr", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(REPRO), "watch", "--comfyui", server.url, "--json", "--interval", str(interval)],
            cwd=project, stdout=subprocess.PIPE, stderr=self.errors, stdin=subprocess.DEVNULL,
            env=_env())
        self.events: list[tuple[float, dict[str, Any]]] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        decoder = json.JSONDecoder()
        buffer = ""
        for chunk in iter(lambda: self.proc.stdout.read1(65536), b""):  # type: ignore[union-attr]
            buffer += chunk.decode()
            while True:
                stripped = buffer.lstrip()
                try:
                    value, end = decoder.raw_decode(stripped)
                except ValueError:
                    break
                buffer = stripped[end:]
                with self._changed:
                    self.events.append((time.time(), value))
                    self._changed.notify_all()

    def wait_for(self, done: Callable[[list[dict[str, Any]]], bool], *,
                 timeout: float = 60.0) -> list[dict[str, Any]]:
        """Wait until ``done(events)``; the events so far."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                evs = [e for _t, e in self.events]
                if done(evs):
                    return evs
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    stderr = (self.project / "watch.stderr").read_text()
                    raise Broken(f"watch: not done within {timeout} s (exit "
                                         f"{self.proc.returncode}); events {evs}; {stderr}")
                self._changed.wait(min(left, 0.5))

    def wait_captured(self, paths: list[Path], *, timeout: float = 60.0) -> dict[str, Any]:
        want = {str(p) for p in paths}
        evs = self.wait_for(lambda evs: want <= set(captured(evs)), timeout=timeout)
        return {p: e for p, e in captured(evs).items() if p in want}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._reader.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.errors.close()

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


# -- records ----------------------------------------------------------------------------


def show(project: Path, target: str | Path) -> dict[str, Any]:
    return dict(repro_json(project, "show", target))


def read_object(project: Path, object_id: str) -> bytes:
    """An object's bytes (loose or packed: docs/layout.md), checked against its id."""
    from repro.objects.store import ObjectStore

    dot = project / ".repro"
    return ObjectStore(dot / "objects", dot / "tmp").read_bytes(object_id.removeprefix("blake3:"))


def executed_request(project: Path, record: dict[str, Any]) -> dict[str, Any]:
    """The ``POST /prompt`` body that re-runs a record's executed prompt (from its history blob)."""
    history = json.loads(read_object(project, record["source"]["blobs"]["history"]))
    [entry] = history.values()
    _number, _pid, graph, extra, _outputs = entry["prompt"]
    extra = {k: v for k, v in extra.items() if k != "client_id"}
    return {"client_id": "repro-e2e-rerun", "prompt": graph, "extra_data": extra}


def level(record: dict[str, Any]) -> str:
    return str(record["reproducibility"]["level"])


def b3(path: Path) -> str:
    return blake3.blake3(path.read_bytes()).hexdigest()


# -- pixels -----------------------------------------------------------------------------


def pixels(path: Path) -> tuple[tuple[int, int], bytes]:
    with Image.open(path) as im:
        return im.size, im.convert("RGBA").tobytes()


def same_pixels(a: Path, b: Path) -> bool:
    return pixels(a) == pixels(b)


def mean_abs_diff(a: Path, b: Path) -> float:
    (sa, pa), (sb, pb) = pixels(a), pixels(b)
    if sa != sb:
        raise Broken(f"sizes differ: {sa} {sb}")
    return sum(abs(x - y) for x, y in zip(pa, pb, strict=True)) / len(pa)


def require(condition: bool, message: str) -> None:
    """A precondition about the server (not about repro): it fails, never xfails.

    The known-bad tests are ``xfail(raises=AssertionError)``: a plain ``assert``
    there is the claim about repro, and this is the set-up that must hold.
    """
    if not condition:
        import pytest

        pytest.fail(f"precondition: {message}", pytrace=False)
