"""The lineage graph as one self-contained HTML file.

Outputs are thumbnails (the objects made at capture, ``lineage.thumbnails``,
embedded as ``data:`` URIs), models are labelled boxes with short hashes (the
versions of one name framed together), and parent and model edges are drawn
between generations laid out left to right. Clicking a node shows its
parameters as a table; hovering highlights its edges; a search box and zoom
buttons help on a whole store. Plain inline CSS and JavaScript
(``lineage.html_page``): no network access, no CDN.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from repro.record import Record

if TYPE_CHECKING:
    from repro.lineage.graph_types import LineageGraph, Node

_PARAM_KEYS = ("prompt", "negative_prompt", "seed", "steps", "cfg", "sampler", "scheduler",
               "denoise", "width", "height", "clip_skip")


def data_uri(thumbnail: bytes) -> str:
    """Thumbnail bytes as a ``data:`` URI the page embeds."""
    from repro.lineage.thumbnails import media_type

    return f"data:{media_type(thumbnail)};base64," + base64.b64encode(thumbnail).decode("ascii")


def readable(value: Any) -> str:
    """A parameter as a person reads it: ``0.8700000000000001`` is ``0.87``, a seed
    stays exact, a list is comma-separated."""
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.6g}" if value.is_integer() or abs(value) >= 1e-4 else f"{value:.3g}"
    if isinstance(value, list | tuple):
        return ", ".join(readable(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {readable(v)}" for k, v in value.items())
    return str(value)


def _details(record: Record) -> dict[str, Any]:
    tool = record.tool
    return {
        "tool": " ".join(str(v) for v in (tool.name, tool.version) if v),
        # [name, text] pairs: a table in the page, in this order.
        "params": [[k, readable(record.params.get(k))] for k in _PARAM_KEYS
                   if record.params.get(k) is not None],
        "models": [[m.role, m.name or m.path or "?",
                    readable(m.strength) if isinstance(m.strength, int | float) else "",
                    (m.blake3 or "")[:12]] for m in record.models],
        "inputs": [f"{i.role} {i.name or ''}".strip() for i in record.inputs],
        "reasons": record.assessment.texts[:5],
        "message": record.message,
    }


def render_html(graph: LineageGraph, positions: dict[str, tuple[int, int]], *,
                load_record: Callable[[str], Record] | None = None,
                thumbnail: Callable[[str], bytes | None] | None = None,
                groups: Callable[[Node], str] | None = None) -> str:
    """The page: ``positions`` maps node ids to ``(column, row)``; ``thumbnail`` gives
    the thumbnail bytes of an output (by its object id); ``groups`` names the group
    of a model node (its versions are framed together)."""
    from repro.lineage.html_page import PAGE

    nodes = []
    for n in graph.nodes:
        layer, row = positions.get(n.id, (0, 0))
        entry: dict[str, Any] = {"id": n.id, "kind": n.kind, "label": n.label,
                                 "layer": layer, "row": row, "target": n.id == graph.target}
        if n.kind == "output":
            entry.update(short=n.id[:12], tool=n.attrs.get("tool"), seed=n.attrs.get("seed"),
                         level=n.attrs.get("level"), path=n.attrs.get("path"))
            thumb = thumbnail(n.attrs["output"]) if thumbnail and n.attrs.get("output") \
                else None
            entry["thumb"] = data_uri(thumb) if thumb else None
            if load_record is not None:
                entry["details"] = _details(load_record(n.id))
        else:
            entry.update(role=n.attrs.get("role"), blake3=n.attrs.get("blake3"),
                         short=(n.attrs.get("blake3") or "unknown")[:12],
                         name=n.attrs.get("name"), path=n.attrs.get("path"),
                         group=groups(n) if groups else n.id)
        nodes.append(entry)
    edges = [{"source": e.source, "target": e.target, "kind": e.kind} for e in graph.edges]
    payload = orjson.dumps({"nodes": nodes, "edges": edges, "truncated": graph.truncated})
    # "</" inside a JSON string would end the script element early.
    data = payload.decode().replace("</", "<\\/")
    title = "repro lineage" + (f" of {graph.target[:12]}" if graph.target else "")
    return PAGE.replace("@TITLE@", html.escape(title)).replace("@DATA@", data)
