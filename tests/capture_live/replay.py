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
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

RUNS = ("empty", "loadimage", "upscale_v1", "chain", "webp", "upscale_v2", "error_missing_model")


class Replay:
    def __init__(self, fixtures: Path) -> None:
        self.fixtures = fixtures
        self.history_all: dict[str, Any] = json.loads((fixtures / "history_all.json").read_text())
        self.entry_files: dict[str, bytes] = {}
        self.run_ids: dict[str, str] = {}
        for run in RUNS:
            pid = json.loads((fixtures / f"prompt_response_{run}.json").read_text())["prompt_id"]
            self.run_ids[run] = pid
            self.entry_files[pid] = (fixtures / f"history_{run}.json").read_bytes()
        self.visible: set[str] | None = None
        self.running = False
        self.down = False
        self.requests: list[str] = []

    def listed(self) -> dict[str, Any]:
        return {pid: e for pid, e in self.history_all.items()
                if self.visible is None or pid in self.visible}

    def answer(self, path: str) -> tuple[int, bytes]:
        url = urllib.parse.urlsplit(path)
        route = url.path.removeprefix("/api")
        if route == "/system_stats":
            return 200, (self.fixtures / "system_stats.json").read_bytes()
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
