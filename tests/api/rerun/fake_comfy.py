"""A loopback ComfyUI stand-in that runs the seeded toy job for the fast tests.

It speaks the routes ``repro rerun``/``vary`` use (``POST /prompt``, ``/free``,
``/interrupt``, ``/queue``; ``GET /history/{id}``, ``/queue``, ``/system_stats``,
``/object_info``, ``/view``) and behaves as ComfyUI 0.3.64 does where it matters:
an ``UpscaleModelLoader`` is cached by its file name until ``POST /free``, a
missing model fails the job, an unknown node class refuses the prompt. Pixels
are a function of the input image, the seed and the model bytes the "loader"
read, so a model replaced under the same name changes them.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from tests.paths import COMFYUI

CLASSES = ("LoadImage", "ImageAddNoise", "UpscaleModelLoader", "ImageUpscaleWithModel",
           "SaveImage", "EmptyImage", "PreviewImage")


def seeded_graph(*, image: str = "repro_input.png", model: str = "tiny_compact_x2.safetensors",
                 seed: int = 7, prefix: str = "toy") -> dict[str, Any]:
    """LoadImage -> ImageAddNoise(seed) -> UpscaleModelLoader + ImageUpscaleWithModel -> SaveImage."""
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": image}},
        "2": {"class_type": "ImageAddNoise",
              "inputs": {"image": ["1", 0], "seed": seed, "strength": 0.25}},
        "3": {"class_type": "UpscaleModelLoader", "inputs": {"model_name": model}},
        "4": {"class_type": "ImageUpscaleWithModel",
              "inputs": {"upscale_model": ["3", 0], "image": ["2", 0]}},
        "5": {"class_type": "SaveImage", "inputs": {"images": ["4", 0],
                                                     "filename_prefix": prefix}},
    }


def workflow_for(graph: dict[str, Any]) -> dict[str, Any]:
    nodes = [{"id": int(n), "type": s["class_type"], "properties": {"cnr_id": "comfy-core",
                                                                      "ver": "0.3.64"},
              "widgets_values": [v for v in s["inputs"].values() if not isinstance(v, list)]}
             for n, s in graph.items()]
    return {"version": 0.4, "nodes": nodes, "links": []}


class FakeComfy:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.models = root / "models" / "upscale_models"
        self.input = root / "input"
        self.output = root / "output"
        for d in (self.models, self.input, self.output):
            d.mkdir(parents=True, exist_ok=True)
        self.history: dict[str, dict[str, Any]] = {}
        self.cache: dict[str, bytes] = {}
        self.counter = 0
        self.number = 0
        self.frees = 0
        self.cancelled: list[str] = []
        self.delay = 0.0
        self.jitter = False  # True: outputs differ run to run (a non-deterministic node)
        self.classes = list(CLASSES)
        self.lock = threading.Lock()
        self.url = ""
        #: where the "server" looks for models (another machine's folder, say)
        self.load_from = self.models

    # -- the job --

    def run(self, pid: str, graph: dict[str, Any], extra: dict[str, Any]) -> None:
        if self.delay:
            time.sleep(self.delay)
        if pid in self.cancelled:
            self._finish(pid, graph, extra, {}, "error", [["execution_interrupted", {}]])
            return
        if not any(s["class_type"] == "ImageAddNoise" for s in graph.values()):
            self._finish(pid, graph, extra, {}, "success", [])  # repro's settle job
            return
        cached = []
        model_bytes = b""
        for node, spec in graph.items():
            if spec["class_type"] == "UpscaleModelLoader":
                name = spec["inputs"]["model_name"]
                if name in self.cache:
                    cached.append(node)
                else:
                    path = self.load_from / name
                    if not path.is_file():
                        msg = (f"Model in folder 'upscale_models' with filename '{name}' "
                               "not found.\n")
                        self._finish(pid, graph, extra, {}, "error", [[
                            "execution_error", {"node_id": node, "node_type": spec["class_type"],
                                                "exception_message": msg,
                                                "exception_type": "FileNotFoundError"}]])
                        return
                    self.cache[name] = path.read_bytes()
                model_bytes = self.cache[name]
        seed = next(s["inputs"]["seed"] for s in graph.values()
                    if s["class_type"] == "ImageAddNoise")
        with Image.open(self.input / graph["1"]["inputs"]["image"]) as im:
            base = im.convert("RGB").resize((im.width * 2, im.height * 2))
        salt = hashlib.sha256(model_bytes).digest()
        rng = random.Random(seed.to_bytes(8, "little") + salt
                            + (random.randbytes(4) if self.jitter else b""))
        noise = bytes(rng.randrange(0, 16) for _ in range(base.width * base.height * 3))
        pixels = bytes((a + b) % 256 for a, b in zip(base.tobytes(), noise, strict=True))
        img = Image.frombytes("RGB", base.size, pixels)
        outputs = {}
        for node, spec in graph.items():
            if spec["class_type"] == "SaveImage":
                prefix = spec["inputs"]["filename_prefix"]
                with self.lock:
                    self.counter += 1
                    name = f"{Path(prefix).name}_{self.counter:05}_.png"
                sub = str(Path(prefix).parent) if "/" in prefix else ""
                info = PngInfo()
                info.add_text("prompt", json.dumps(graph))
                if extra.get("extra_pnginfo", {}).get("workflow"):
                    info.add_text("workflow", json.dumps(extra["extra_pnginfo"]["workflow"]))
                (self.output / sub).mkdir(parents=True, exist_ok=True)
                img.save(self.output / sub / name, pnginfo=info)
                outputs[node] = {"images": [{"filename": name, "subfolder": sub,
                                             "type": "output"}]}
        self._finish(pid, graph, extra, outputs, "success",
                     [["execution_cached", {"nodes": cached}]])

    def _finish(self, pid: str, graph: dict[str, Any], extra: dict[str, Any],
                outputs: dict[str, Any], status: str, msgs: list[Any]) -> None:
        now = int(time.time() * 1000)
        messages = [["execution_start", {"prompt_id": pid, "timestamp": now}]]
        messages += [[m, {**d, "prompt_id": pid, "timestamp": now}] for m, d in msgs]
        self.history[pid] = {
            "prompt": [self.number, pid, graph, extra, list(outputs)],
            "outputs": outputs,
            "status": {"status_str": status, "completed": status == "success",
                       "messages": messages}, "meta": {}}

    # -- HTTP --

    def answer(self, method: str, path: str, body: Any) -> tuple[int, bytes, str]:
        url = urllib.parse.urlsplit(path)
        route = url.path
        js = "application/json"
        if method == "POST" and route == "/prompt":
            graph = body.get("prompt") or {}
            bad = {n: s["class_type"] for n, s in graph.items()
                   if s.get("class_type") not in self.classes}
            if bad:
                node, cls = next(iter(bad.items()))
                return 400, json.dumps({"error": {
                    "type": "missing_node_type",
                    "message": f"Node '{cls}' not found. The custom node may not be installed.",
                    "details": f"Node ID '#{node}'"}, "node_errors": {}}).encode(), js
            pid = str(uuid.uuid4())
            self.number += 1
            threading.Thread(target=self.run, args=(pid, graph, body.get("extra_data") or {}),
                             daemon=True).start()
            return 200, json.dumps({"prompt_id": pid, "number": self.number,
                                    "node_errors": {}}).encode(), js
        if method == "POST" and route == "/free":
            self.cache.clear()
            self.frees += 1
            return 200, b"", js
        if method == "POST" and route in ("/interrupt", "/queue"):
            pid = body.get("prompt_id") or (body.get("delete") or [None])[0]
            if pid:
                self.cancelled.append(pid)
            return 200, b"", js
        if route == "/system_stats":
            return 200, (COMFYUI / "system_stats.json").read_bytes(), js
        if route == "/object_info":
            return 200, json.dumps({c: {} for c in self.classes}).encode(), js
        if route == "/queue":
            return 200, b'{"queue_running": [], "queue_pending": []}', js
        if route.startswith("/history/"):
            pid = route.rsplit("/", 1)[1]
            entry = self.history.get(pid)
            return 200, json.dumps({pid: entry} if entry else {}).encode(), js
        if route == "/view":
            q = urllib.parse.parse_qs(url.query)
            f = self.output / q.get("subfolder", [""])[0] / q["filename"][0]
            return (200, f.read_bytes(), "image/png") if f.is_file() else (404, b"", js)
        return 404, b"", js


@contextmanager
def serve(root: Path) -> Iterator[FakeComfy]:
    fake = FakeComfy(root)

    class Handler(BaseHTTPRequestHandler):
        def _do(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            status, data, kind = fake.answer(method, self.path,
                                             json.loads(raw) if raw else {})
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._do("GET")

        def do_POST(self) -> None:
            self._do("POST")

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def png_bytes(path: Path) -> bytes:
    out = io.BytesIO()
    with Image.open(path) as im:
        im.save(out, format="PNG")
    return out.getvalue()
