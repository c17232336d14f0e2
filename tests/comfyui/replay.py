"""A loopback HTTP server replaying a real ComfyUI 0.3.64 server's recorded answers.

It replays the recording in ``tests/fixtures/comfyui-0.3.64/`` (see its
README): ``GET /system_stats`` -> ``system_stats.json``, ``GET /queue`` ->
``queue.json``, ``GET /history`` -> ``history_all.json`` (the seven runs, in
queue order), ``GET /history/{prompt_id}`` -> that run's ``history_<run>.json``
byte for byte. ``?max_items=N`` answers with the last N entries of
``history_all.json``, as ComfyUI does. ``visible`` limits which prompt ids are
listed (to replay the runs finishing one after another), ``running`` fakes a
job in ``/queue``, and ``down`` makes every request end without an answer
(the server unreachable).

``start_ms`` moves the recording in time: every ``timestamp`` is shifted so
that the first run starts then (files a test writes now are then older than
the jobs, as they were for the real server). ``add`` lists a synthetic entry
after the recorded ones; ``forget`` empties the history, as a restart does.
``stats`` and ``object_info`` override those answers.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

RUNS = ("empty", "loadimage", "upscale_v1", "chain", "webp", "upscale_v2", "error_missing_model")


_TIMESTAMP = re.compile(rb'"timestamp": (\d+)')

#: When the recording's first run started (epoch ms).
FIRST_START_MS = 1795664509818


class Replay:
    def __init__(self, fixtures: Path, start_ms: int | None = None) -> None:
        self.fixtures = fixtures
        self.shift = 0 if start_ms is None else start_ms - FIRST_START_MS
        self.history_all: dict[str, Any] = json.loads(
            self.shifted((fixtures / "history_all.json").read_bytes()))
        self.entry_files: dict[str, bytes] = {}
        self.run_ids: dict[str, str] = {}
        for run in RUNS:
            pid = json.loads((fixtures / f"prompt_response_{run}.json").read_text())["prompt_id"]
            self.run_ids[run] = pid
            self.entry_files[pid] = self.shifted((fixtures / f"history_{run}.json").read_bytes())
        self.visible: set[str] | None = None
        self.running = False
        self.down = False
        self.requests: list[str] = []
        self.stats: dict[str, Any] | None = None
        self.object_info: dict[str, Any] = {}

    def shifted(self, data: bytes) -> bytes:
        """``data`` with every ``"timestamp": N`` moved by the shift."""
        if not self.shift:
            return data
        return _TIMESTAMP.sub(lambda m: b'"timestamp": %d' % (int(m.group(1)) + self.shift),
                              data)

    def time_of(self, run: str, event: str) -> int:
        """When ``event`` happened in ``run``, as replayed (epoch ms)."""
        [entry] = json.loads(self.entry_files[self.run_ids[run]]).values()
        return int(dict(entry["status"]["messages"])[event]["timestamp"])

    def add(self, pid: str, entry: dict[str, Any]) -> None:
        """List a synthetic history entry after the others (visible, if ``visible`` is set)."""
        self.history_all[pid] = entry
        self.entry_files[pid] = json.dumps({pid: entry}).encode()
        if self.visible is not None:
            self.visible.add(pid)

    def forget(self) -> None:
        """The server restarted: its history is gone."""
        self.history_all.clear()

    def listed(self) -> dict[str, Any]:
        return {pid: e for pid, e in self.history_all.items()
                if self.visible is None or pid in self.visible}

    def answer(self, path: str) -> tuple[int, bytes]:
        url = urllib.parse.urlsplit(path)
        route = url.path.removeprefix("/api")
        if route == "/system_stats":
            if self.stats is not None:
                return 200, json.dumps(self.stats).encode()
            return 200, (self.fixtures / "system_stats.json").read_bytes()
        if route == "/object_info":
            return 200, json.dumps(self.object_info).encode()
        if route == "/queue":
            if self.running:
                return 200, json.dumps({"queue_running": [[9, "running-id", {}, {}, []]],
                                        "queue_pending": []}).encode()
            return 200, (self.fixtures / "queue.json").read_bytes()
        if route == "/history":
            listed = self.listed()
            query = urllib.parse.parse_qs(url.query)
            if "max_items" in query:
                n = int(query["max_items"][0])
                listed = dict(list(listed.items())[-n:]) if n > 0 else {}
            return 200, json.dumps(listed, indent=2).encode()
        if route.startswith("/history/"):
            pid = urllib.parse.unquote(route.removeprefix("/history/"))
            if pid in self.listed():
                return 200, self.entry_files[pid]
            return 200, b"{}"
        return 404, b"{}"


@contextmanager
def serve(replay: Replay, port: int = 0) -> Iterator[str]:
    """Serve ``replay`` on 127.0.0.1 (an ephemeral port by default); yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            replay.requests.append(self.path)
            if replay.down:
                self.close_connection = True
                return  # no status line: the client sees the connection end
            code, body = replay.answer(self.path)
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
