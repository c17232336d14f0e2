"""Running a job on a ComfyUI server: ``POST /free``, ``POST /prompt``, following
``/history/{prompt_id}`` to the end, ``POST /interrupt``, ``GET /view``.

``client.py`` holds the read-only routes; this module is the one that makes a
server do something. Every failure is one ``ReproError``: the server not
answering is ``GeneratorUnreachable`` (exit 8); a prompt refused (validation,
``node_errors``, a node class the server does not have), a job that failed
(a model missing on the server, out of memory) or was interrupted is
``JobFailed`` (exit 9), each with a hint.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from repro import jsonsafe
from repro.comfyui.client import ComfyClient, ServerUnreachable
from repro.comfyui.history import Failure, failure
from repro.errors import GeneratorUnreachable, JobFailed, LimitExceeded

#: Largest image read back with ``GET /view``.
MAX_VIEW_BYTES = 512 * 1024 * 1024

#: A job that needs no model and saves nothing (``free`` waits for one).
SETTLE: dict[str, Any] = {
    "1": {"class_type": "EmptyImage",
          "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
    "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}},
}

Tick = Callable[[str], None]
"""Called while a job waits or runs, with what the server says (``queued 2``, ``running``)."""


@dataclass(frozen=True)
class Finished:
    """A finished job: its prompt id, raw ``/history/{id}`` answer and entry."""

    prompt_id: str
    raw: bytes
    entry: dict[str, Any]


def _unreachable(server: ComfyClient, exc: BaseException) -> GeneratorUnreachable:
    reason = getattr(exc, "reason", exc)
    return GeneratorUnreachable(f"ComfyUI at {server.url} does not answer ({reason})")


class Runner:
    """Runs jobs on one ComfyUI server (``ComfyClient`` for the read-only routes)."""

    def __init__(self, client: ComfyClient, *, client_id: str = "repro") -> None:
        self.client = client
        self.client_id = client_id

    @property
    def url(self) -> str:
        return self.client.url

    def post(self, route: str, body: Mapping[str, Any]) -> tuple[int, Any]:
        """``POST`` JSON; (HTTP status, parsed answer or None). A 4xx answer is returned,
        not raised: ComfyUI explains a refused prompt in its body."""
        request = urllib.request.Request(self.url + route, data=orjson.dumps(body),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.client.timeout) as answer:
                status, raw = answer.status, answer.read(jsonsafe.MAX_JSON_BYTES + 1)
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read(jsonsafe.MAX_JSON_BYTES + 1)
            exc.close()
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            raise _unreachable(self.client, exc) from None
        if not raw.strip():
            return status, None
        try:
            return status, jsonsafe.loads(raw, what=self.url + route)
        except Exception:  # an HTML error page: the status says enough
            return status, None

    def get(self, route: str) -> Any:
        try:
            return self.client.get(route)[1]
        except ServerUnreachable as exc:
            raise GeneratorUnreachable(str(exc)) from None

    def object_info(self) -> dict[str, Any]:
        try:
            return self.client.object_info()
        except ServerUnreachable as exc:
            raise GeneratorUnreachable(str(exc)) from None

    def system_stats(self) -> tuple[bytes, dict[str, Any]]:
        try:
            return self.client.system_stats()
        except ServerUnreachable as exc:
            raise GeneratorUnreachable(str(exc)) from None

    def free(self) -> float:
        """``POST /free`` (unload models, reset the execution cache), so that every
        loader reads its file again; the seconds it took.

        ComfyUI's worker acts on what ``/free`` asks only after its next queue
        ``get`` returns: a job queued right after could still run on the old
        cache. So a job that needs no model is queued and waited for; the worker
        handles the flags right after it, before it takes anything queued later."""
        started = time.perf_counter()
        status, _ = self.post("/free", {"unload_models": True, "free_memory": True})
        if status >= 400:
            raise JobFailed(f"ComfyUI at {self.url} refused POST /free (HTTP {status})",
                            hint="restart the server so that it loads every model afresh")
        self.wait(self.submit(SETTLE))
        return time.perf_counter() - started

    def submit(self, graph: Mapping[str, Any], extra_data: Mapping[str, Any] | None = None
               ) -> str:
        """``POST /prompt``; the prompt id. A refused prompt raises ``JobFailed``."""
        body: dict[str, Any] = {"client_id": self.client_id, "prompt": dict(graph)}
        if extra_data:
            body["extra_data"] = dict(extra_data)
        status, answer = self.post("/prompt", body)
        if isinstance(answer, dict) and status < 400 and not answer.get("node_errors") \
                and isinstance(answer.get("prompt_id"), str):
            return str(answer["prompt_id"])
        raise JobFailed(f"ComfyUI refused the prompt: {refusal(answer, status)}",
                        hint="the server lacks a node or a model the record needs, or a value "
                             "is out of range: see the message")

    def wait(self, prompt_id: str, *, poll: float = 0.1, tick: Tick | None = None,
             timeout: float | None = None) -> Finished:
        """Follow a job until it ends; a failed or interrupted job raises ``JobFailed``."""
        started = time.monotonic()
        while True:
            try:
                fetched = self.client.history_entry(prompt_id)
            except ServerUnreachable as exc:
                raise GeneratorUnreachable(f"{exc}; the job {prompt_id} may still run") \
                    from None
            if fetched is not None:
                raw, entry = fetched
                status = entry.get("status")
                done = isinstance(status, dict) and (status.get("completed")
                                                     or status.get("status_str") == "error")
                if done:
                    why = failure(entry)
                    if why is not None:
                        raise job_failed(why, prompt_id)
                    return Finished(prompt_id, raw, entry)
            if tick is not None:
                tick(self._where(prompt_id))
            if timeout is not None and time.monotonic() - started > timeout:
                raise JobFailed(f"job {prompt_id} did not finish within {timeout:g} s",
                                hint="it may still be running: see the server's queue")
            time.sleep(poll)

    def _where(self, prompt_id: str) -> str:
        try:
            queue = self.client.queue()
        except Exception:  # progress only: a hiccup here is not the job's failure
            return "waiting"
        running = queue.get("queue_running") or []
        if any(isinstance(q, list) and len(q) > 1 and q[1] == prompt_id for q in running):
            return "running"
        pending = [q for q in queue.get("queue_pending") or [] if isinstance(q, list)]
        ahead = sum(1 for q in pending if len(q) > 1 and q[1] != prompt_id)
        return f"queued behind {ahead + len(running)}" if pending or running else "finishing"

    def cancel(self, prompt_id: str) -> None:
        """Take the job off the queue, or interrupt it if it runs (best effort)."""
        for route, body in (("/queue", {"delete": [prompt_id]}),
                            ("/interrupt", {"prompt_id": prompt_id})):
            try:
                self.post(route, body)
            except GeneratorUnreachable:
                return

    def view(self, filename: str, subfolder: str = "", kind: str = "output") -> bytes:
        """``GET /view``: a file the server saved."""
        query = urllib.parse.urlencode({"filename": filename, "subfolder": subfolder,
                                        "type": kind})
        try:
            with urllib.request.urlopen(f"{self.url}/view?{query}",
                                        timeout=self.client.timeout) as answer:
                data: bytes = answer.read(MAX_VIEW_BYTES + 1)
        except urllib.error.HTTPError as exc:
            exc.close()
            raise JobFailed(f"ComfyUI did not give back {subfolder}/{filename} "
                            f"(HTTP {exc.code})".replace(" /", " "),
                            hint="the file was moved or deleted from the server's "
                                 "output folder") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            raise _unreachable(self.client, exc) from None
        if len(data) > MAX_VIEW_BYTES:
            raise LimitExceeded(f"{filename}: over {MAX_VIEW_BYTES} bytes")
        return data


def refusal(answer: Any, status: int) -> str:
    """A refused ``POST /prompt`` in one line: the error and each node's complaint."""
    if not isinstance(answer, dict):
        return f"HTTP {status}"
    parts = []
    error = answer.get("error")
    if isinstance(error, dict):
        parts.append(str(error.get("message") or error.get("type") or "invalid prompt").strip())
    elif isinstance(error, str):
        parts.append(error)
    nodes = answer.get("node_errors")
    if isinstance(nodes, dict):
        for node, info in sorted(nodes.items()):
            if not isinstance(info, dict):
                continue
            errs = info.get("errors")
            texts = [str(e.get("details") or e.get("message"))
                     for e in (errs if isinstance(errs, list) else [])
                     if isinstance(e, dict)]
            parts.append(f"node {node} {info.get('class_type', '')}: "
                         f"{'; '.join(texts) or 'invalid'}".replace("  ", " "))
    return "; ".join(p for p in parts if p)[:600] or f"HTTP {status}"


def job_failed(why: Failure, prompt_id: str) -> JobFailed:
    """The ``JobFailed`` a failed history entry gives, with the hint that fits."""
    text = why.message.lower()
    if why.message == "interrupted":
        return JobFailed(f"job {prompt_id} was interrupted on the server",
                         hint="someone pressed cancel or the queue was cleared; run again")
    if "out of memory" in text or "outofmemory" in text:
        hint = "free GPU memory (close other jobs) or lower the size or batch, then run again"
    elif "not found" in text and ("model" in text or "folder" in text):
        hint = "the model is missing on the server: `repro checkout TARGET` puts it back"
    else:
        hint = "see the server's log for the traceback"
    return JobFailed(f"job {prompt_id} failed: {why}", hint=hint)


def missing_classes(graph: Mapping[str, Any], known: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(node id, class_type)`` of each node whose class the server does not have."""
    return sorted((str(node), str(spec.get("class_type")))
                  for node, spec in graph.items()
                  if isinstance(spec, dict) and spec.get("class_type") not in known)


__all__ = ["Finished", "Runner", "job_failed", "missing_classes", "refusal"]
