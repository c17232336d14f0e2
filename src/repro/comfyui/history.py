"""One ``GET /history/{prompt_id}`` entry, read into small typed values.

An entry is ``{"prompt": [number, prompt_id, graph, extra_data,
outputs_to_execute, ...], "outputs": {node: {"images": [...]}}, "status":
{"status_str", "completed", "messages": [[event, data], ...]}, "meta"?}``
(FORMATS.md §1.1). Its status messages say when the job started and ended,
which nodes ComfyUI took from its cache instead of running them, and why a
job failed. Every function takes the parsed JSON and tolerates missing or
mistyped parts (an entry is untrusted input); ``executed_graph`` raises
``InputError`` when the entry has no graph at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from repro.capture.comfyui_nodes import node_id_key
from repro.errors import InputError

__all__ = ["ExecutedGraph", "Failure", "SavedOutput", "cached_nodes", "executed_graph",
           "executed_nodes", "failure", "messages", "output_nodes", "queue_number",
           "saved_outputs", "timestamp_ms"]


@dataclass(frozen=True)
class SavedOutput:
    """One file a job's output node reported: ``type`` is ``output``, ``temp`` (a
    preview) or ``input``."""

    node: str
    filename: str
    subfolder: str = ""
    type: str = "output"

    @property
    def rel(self) -> str:
        """The path under the server's folder for ``type``, with ``/`` separators."""
        return f"{self.subfolder}/{self.filename}".lstrip("/")


@dataclass(frozen=True)
class Failure:
    """Why a job failed: the node that raised (when known) and what it said."""

    message: str
    node: str | None = None
    node_type: str | None = None

    def __str__(self) -> str:
        where = f"node {self.node} {self.node_type}: " if self.node else ""
        return f"{where}{self.message}"


@dataclass(frozen=True)
class ExecutedGraph:
    """The API graph the server validated and ran, with the editor workflow if sent."""

    prompt_id: str
    graph: dict[str, Any]
    workflow: dict[str, Any] | None


def _unwrap(entry: Any) -> dict[str, Any]:
    """The entry itself, also when given the whole ``{prompt_id: entry}`` answer."""
    if not isinstance(entry, dict):
        raise InputError("ComfyUI history: the entry is not a JSON object")
    if "prompt" not in entry and len(entry) == 1:
        (inner,) = entry.values()
        if isinstance(inner, dict) and "prompt" in inner:
            return inner
    return entry


def messages(entry: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The status messages ``[(event, data)]`` in the order the server sent them."""
    status = entry.get("status")
    raw = status.get("messages") if isinstance(status, Mapping) else None
    if not isinstance(raw, list):
        return []
    return [(m[0], m[1]) for m in raw
            if isinstance(m, list) and len(m) == 2 and isinstance(m[0], str)
            and isinstance(m[1], dict)]


def timestamp_ms(entry: Mapping[str, Any], event: str) -> int | None:
    """When the server sent ``event`` (``execution_start``...), in ms since the epoch."""
    for name, data in messages(entry):
        value = data.get("timestamp")
        if name == event and isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def cached_nodes(entry: Mapping[str, Any]) -> frozenset[str] | None:
    """Node ids ComfyUI reused from its cache for this job; None when it did not say."""
    for name, data in messages(entry):
        if name == "execution_cached" and isinstance(data.get("nodes"), list):
            return frozenset(str(n) for n in data["nodes"])
    return None


def executed_nodes(entry: Mapping[str, Any]) -> frozenset[str] | None:
    """Nodes a failed job ran before the error (``execution_error``'s ``executed``);
    None when the entry does not say (a job that succeeded ran all it needed)."""
    for name, data in messages(entry):
        if name == "execution_error" and isinstance(data.get("executed"), list):
            return frozenset(str(n) for n in data["executed"])
    return None


def output_nodes(entry: Mapping[str, Any]) -> list[str] | None:
    """The output nodes the job was queued to run (the queue tuple's fifth item)."""
    queued = entry.get("prompt")
    if isinstance(queued, list) and len(queued) > 4 and isinstance(queued[4], list):
        return [str(n) for n in queued[4] if isinstance(n, (str, int))]
    return None


def queue_number(entry: Mapping[str, Any]) -> int:
    """The job's queue number (counts up from 0 after each server start), -1 when absent."""
    queued = entry.get("prompt")
    if isinstance(queued, list) and queued and isinstance(queued[0], int) \
            and not isinstance(queued[0], bool):
        return queued[0]
    return -1


def failure(entry: Mapping[str, Any]) -> Failure | None:
    """Why a job failed, or None when it succeeded."""
    status = entry.get("status")
    if not isinstance(status, Mapping) or status.get("status_str") != "error":
        return None
    for name, data in messages(entry):
        if name == "execution_error":
            node = data.get("node_id")
            node_type = data.get("node_type")
            text = str(data.get("exception_message") or data.get("exception_type") or "")
            return Failure(text.strip()[:500] or "execution error",
                           str(node) if node not in (None, "") else None,
                           str(node_type) if node_type else None)
        if name == "execution_interrupted":
            return Failure("interrupted")
    return Failure("execution error")


def saved_outputs(entry: Any) -> list[SavedOutput]:
    """Every file the entry's ``outputs`` name, by node id, then in the server's order.

    A failed job lists the files of the output nodes that ran before the error.
    """
    entry = _unwrap(entry)
    outputs = entry.get("outputs")
    if not isinstance(outputs, dict):
        return []
    files = []
    for node_id in sorted(outputs, key=lambda n: node_id_key(str(n))):
        produced = outputs[node_id]
        if not isinstance(produced, dict):
            continue
        for items in produced.values():
            if not isinstance(items, list):
                continue
            for item in items:
                if not isinstance(item, dict) or not isinstance(item.get("filename"), str):
                    continue
                subfolder, kind = item.get("subfolder"), item.get("type")
                files.append(SavedOutput(str(node_id), item["filename"],
                                         subfolder if isinstance(subfolder, str) else "",
                                         kind if isinstance(kind, str) else "output"))
    return files


def executed_graph(entry: Any) -> ExecutedGraph:
    """The graph the job ran, its prompt id and the editor workflow (None when absent).

    The workflow is ``extra_data.extra_pnginfo.workflow`` of the queue tuple.
    """
    entry = _unwrap(entry)
    queued = entry.get("prompt")
    if not isinstance(queued, list) or len(queued) < 3:
        raise InputError("ComfyUI history: the entry's prompt is not a "
                         "[number, prompt_id, graph, ...] list")
    prompt_id, graph = queued[1], queued[2]
    if not isinstance(prompt_id, str) or not isinstance(graph, dict):
        raise InputError("ComfyUI history: the entry has no prompt_id and graph")
    workflow = None
    extra = queued[3] if len(queued) > 3 else None
    if isinstance(extra, dict):
        pnginfo = extra.get("extra_pnginfo")
        if isinstance(pnginfo, dict) and isinstance(pnginfo.get("workflow"), dict):
            workflow = pnginfo["workflow"]
    return ExecutedGraph(prompt_id, graph, workflow)
