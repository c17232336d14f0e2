"""The lineage graph as one self-contained HTML file.

Outputs are thumbnails (made with Pillow from the stored output objects and
embedded as ``data:`` URIs), models are labelled boxes with short hashes, and
parent and model edges are drawn between generations laid out left to right.
Clicking a node shows its parameters; hovering highlights its edges. Plain
inline CSS and JavaScript: no network access, no CDN.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from repro.record import Record

if TYPE_CHECKING:
    from repro.lineage.graph_types import LineageGraph

THUMB = 160
#: Output objects larger than this are not decoded for a thumbnail.
MAX_THUMB_SOURCE = 64 * 1024 * 1024
MAX_THUMB_PIXELS = 64_000_000
_PARAM_KEYS = ("prompt", "negative_prompt", "seed", "steps", "cfg", "sampler", "scheduler",
               "denoise", "width", "height", "clip_skip")


def thumbnail(data: bytes) -> str | None:
    """A ``data:image/...`` URI of a small JPEG (PNG when transparent), or None
    when the bytes are not a decodable image within bounds."""
    if len(data) > MAX_THUMB_SOURCE:
        return None
    from repro.imaging import ImageUnreadable, open_image

    try:
        with open_image(io.BytesIO(data), max_pixels=MAX_THUMB_PIXELS) as im:
            im.draft("RGB", (THUMB * 2, THUMB * 2))
            im.thumbnail((THUMB, THUMB))
            transparent = im.mode in ("RGBA", "LA", "P") and "A" in im.convert("RGBA").getbands()
            out = io.BytesIO()
            if transparent and im.mode != "RGB":
                im.convert("RGBA").save(out, format="PNG", optimize=True)
                kind = "png"
            else:
                im.convert("RGB").save(out, format="JPEG", quality=80)
                kind = "jpeg"
    except ImageUnreadable:
        return None
    return f"data:image/{kind};base64," + base64.b64encode(out.getvalue()).decode("ascii")


def _details(record: Record) -> dict[str, Any]:
    tool = record.tool
    return {
        "tool": " ".join(str(v) for v in (tool.name, tool.version) if v),
        "params": {k: record.params.get(k) for k in _PARAM_KEYS
                   if record.params.get(k) is not None},
        "models": [" ".join(str(v) for v in (m.role, m.name,
                                             f"x{m.strength:g}" if isinstance(
                                                 m.strength, int | float) else None,
                                             (m.blake3 or "")[:12] or None) if v)
                   for m in record.models],
        "inputs": [f"{i.role} {i.name or ''}".strip() for i in record.inputs],
        "reasons": record.assessment.texts[:5],
        "message": record.message,
    }


def render_html(graph: LineageGraph, positions: dict[str, tuple[int, int]], *,
                load_record: Callable[[str], Record] | None = None,
                read_object: Callable[[str], bytes | None] | None = None) -> str:
    """The page: ``positions`` maps node ids to ``(layer, row)``."""
    nodes = []
    for n in graph.nodes:
        layer, row = positions.get(n.id, (0, 0))
        entry: dict[str, Any] = {"id": n.id, "kind": n.kind, "label": n.label,
                                 "layer": layer, "row": row, "target": n.id == graph.target}
        if n.kind == "output":
            entry.update(short=n.id[:12], tool=n.attrs.get("tool"), seed=n.attrs.get("seed"),
                         level=n.attrs.get("level"), path=n.attrs.get("path"))
            blob = read_object(n.attrs["output"]) if read_object and n.attrs.get("output") \
                else None
            entry["thumb"] = thumbnail(blob) if blob else None
            if load_record is not None:
                entry["details"] = _details(load_record(n.id))
        else:
            entry.update(role=n.attrs.get("role"), blake3=n.attrs.get("blake3"),
                         short=(n.attrs.get("blake3") or "unknown")[:12],
                         name=n.attrs.get("name"), path=n.attrs.get("path"))
        nodes.append(entry)
    edges = [{"source": e.source, "target": e.target, "kind": e.kind} for e in graph.edges]
    payload = orjson.dumps({"nodes": nodes, "edges": edges, "truncated": graph.truncated})
    # "</" inside a JSON string would end the script element early.
    data = payload.decode().replace("</", "<\\/")
    title = "repro lineage" + (f" of {graph.target[:12]}" if graph.target else "")
    return _PAGE.replace("@TITLE@", html.escape(title)).replace("@DATA@", data)


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>@TITLE@</title>
<style>
  body { margin: 0; font: 13px/1.35 system-ui, sans-serif; color: #222; background: #fafafa; }
  header { padding: 8px 14px; background: #334; color: #fff; }
  header small { opacity: .75; margin-left: 1em; }
  #wrap { display: flex; height: calc(100vh - 37px); }
  #scroll { flex: 1; overflow: auto; position: relative; }
  #canvas { position: relative; }
  svg#edges { position: absolute; left: 0; top: 0; pointer-events: none; }
  .edge { fill: none; stroke: #8a8fa3; stroke-width: 1.6; }
  .edge.model { stroke: #b7bdd6; stroke-dasharray: 5 4; }
  .edge.extras { stroke: #c27c0e; }
  .edge.hot { stroke: #d33; stroke-width: 3; }
  .node { position: absolute; box-sizing: border-box; border: 1px solid #99a; border-radius: 6px;
          background: #fff; cursor: pointer; overflow: hidden; }
  .node:hover, .node.selected { border-color: #d33; box-shadow: 0 0 0 2px #f3c1c1; }
  .node.output { width: 180px; padding: 6px; text-align: center; }
  .node.output.target { border-width: 3px; }
  .node.output img { display: block; margin: 0 auto 4px; max-width: 160px; max-height: 120px; }
  .node.output .noimg { height: 60px; line-height: 60px; color: #999; }
  .node.model { width: 180px; padding: 6px 8px; background: #eef0fb; }
  .node .role { font-size: 11px; text-transform: uppercase; color: #667; }
  .node .hash, .node .meta { font: 11px monospace; color: #556; }
  .lvl-full { color: #17803d; } .lvl-approximate { color: #b36b00; }
  .lvl-partial, .lvl-none { color: #b3261e; }
  #details { width: 340px; overflow: auto; border-left: 1px solid #ccd; padding: 10px 14px;
             background: #fff; }
  #details pre { white-space: pre-wrap; word-break: break-word; font-size: 12px; }
  #details h2 { font-size: 15px; margin: 4px 0 8px; word-break: break-all; }
</style>
</head>
<body>
<header>@TITLE@ <small id="counts"></small></header>
<div id="wrap">
  <div id="scroll"><div id="canvas"><svg id="edges" xmlns="http://www.w3.org/2000/svg"></svg></div></div>
  <aside id="details"><p>Click an image or a model to see its parameters.</p></aside>
</div>
<script type="application/json" id="graph-data">@DATA@</script>
<script>
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("graph-data").textContent);
  var canvas = document.getElementById("canvas");
  var svg = document.getElementById("edges");
  var details = document.getElementById("details");
  var COL = 250, ROW = 200, PAD = 24;
  var byId = {}, boxes = {}, width = 0, height = 0;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  data.nodes.forEach(function (n) {
    byId[n.id] = n;
    var box = el("div", "node " + n.kind + (n.target ? " target" : ""));
    box.dataset.id = n.id;
    box.style.left = (PAD + n.layer * COL) + "px";
    box.style.top = (PAD + n.row * ROW) + "px";
    if (n.kind === "output") {
      if (n.thumb) {
        var img = el("img");
        img.src = n.thumb;
        img.alt = n.label;
        box.appendChild(img);
      } else {
        box.appendChild(el("div", "noimg", "no preview"));
      }
      box.appendChild(el("div", "name", n.label));
      var meta = el("div", "meta", n.short + " " + (n.tool || "?") +
        (n.seed !== null && n.seed !== undefined ? " seed " + n.seed : ""));
      box.appendChild(meta);
      box.appendChild(el("div", "meta lvl-" + n.level, n.level));
      box.title = n.path + "\\n" + (n.details ? JSON.stringify(n.details.params, null, 1) : "");
    } else {
      box.appendChild(el("div", "role", n.role || "model"));
      box.appendChild(el("div", "name", n.label));
      box.appendChild(el("div", "hash", n.short));
      box.title = (n.path || n.name || "") + "\\nblake3 " + (n.blake3 || "unknown");
    }
    canvas.appendChild(box);
    boxes[n.id] = box;
  });

  function geometry(id) {
    var b = boxes[id];
    return {x: b.offsetLeft, y: b.offsetTop, w: b.offsetWidth, h: b.offsetHeight};
  }

  var NS = "http://www.w3.org/2000/svg";
  var marker = document.createElementNS(NS, "marker");
  marker.setAttribute("id", "arrow"); marker.setAttribute("viewBox", "0 0 10 10");
  marker.setAttribute("refX", "10"); marker.setAttribute("refY", "5");
  marker.setAttribute("markerWidth", "7"); marker.setAttribute("markerHeight", "7");
  marker.setAttribute("orient", "auto");
  var tip = document.createElementNS(NS, "path");
  tip.setAttribute("d", "M0,0 L10,5 L0,10 z"); tip.setAttribute("fill", "#8a8fa3");
  marker.appendChild(tip);
  var defs = document.createElementNS(NS, "defs");
  defs.appendChild(marker); svg.appendChild(defs);

  var paths = [];
  data.edges.forEach(function (e) {
    if (!boxes[e.source] || !boxes[e.target]) return;
    var a = geometry(e.source), b = geometry(e.target);
    var x1 = a.x + a.w, y1 = a.y + a.h / 2, x2 = b.x, y2 = b.y + b.h / 2;
    if (x2 <= x1) { x1 = a.x + a.w / 2; y1 = a.y + a.h; x2 = b.x + b.w / 2; y2 = b.y; }
    var dx = Math.max(40, (x2 - x1) / 2);
    var p = document.createElementNS(NS, "path");
    p.setAttribute("d", "M" + x1 + "," + y1 + " C" + (x1 + dx) + "," + y1 + " " +
                   (x2 - dx) + "," + y2 + " " + x2 + "," + y2);
    p.setAttribute("class", "edge " + e.kind);
    p.setAttribute("marker-end", "url(#arrow)");
    p.dataset.source = e.source; p.dataset.target = e.target; p.dataset.kind = e.kind;
    svg.appendChild(p);
    paths.push(p);
  });

  Object.keys(boxes).forEach(function (id) {
    var g = geometry(id);
    width = Math.max(width, g.x + g.w + PAD);
    height = Math.max(height, g.y + g.h + PAD);
  });
  canvas.style.width = width + "px"; canvas.style.height = height + "px";
  svg.setAttribute("width", width); svg.setAttribute("height", height);

  function highlight(id, on) {
    paths.forEach(function (p) {
      if (p.dataset.source === id || p.dataset.target === id) p.classList.toggle("hot", on);
    });
  }

  function show(n) {
    details.textContent = "";
    details.appendChild(el("h2", null, n.kind === "output" ? n.label : (n.role + " " + n.label)));
    if (n.kind === "output") {
      details.appendChild(el("div", "meta", "record " + n.id));
      details.appendChild(el("div", "meta", n.path));
      details.appendChild(el("div", "meta lvl-" + n.level, "level " + n.level));
      if (n.details) {
        details.appendChild(el("pre", null, JSON.stringify(n.details, null, 2)));
      }
    } else {
      details.appendChild(el("div", "meta", "blake3 " + (n.blake3 || "unknown")));
      details.appendChild(el("div", "meta", n.path || n.name || ""));
    }
    var used = paths.filter(function (p) { return p.dataset.target === n.id; })
      .map(function (p) { return (byId[p.dataset.source] || {}).label + " (" + p.dataset.kind + ")"; });
    if (used.length) details.appendChild(el("pre", null, "from:\\n  " + used.join("\\n  ")));
  }

  canvas.addEventListener("click", function (ev) {
    var box = ev.target.closest(".node");
    if (!box) return;
    document.querySelectorAll(".node.selected").forEach(function (b) { b.classList.remove("selected"); });
    box.classList.add("selected");
    show(byId[box.dataset.id]);
  });
  canvas.addEventListener("mouseover", function (ev) {
    var box = ev.target.closest(".node"); if (box) highlight(box.dataset.id, true);
  });
  canvas.addEventListener("mouseout", function (ev) {
    var box = ev.target.closest(".node"); if (box) highlight(box.dataset.id, false);
  });
  var outputs = data.nodes.filter(function (n) { return n.kind === "output"; }).length;
  document.getElementById("counts").textContent = outputs + " output(s), " +
    (data.nodes.length - outputs) + " model(s), " + paths.length + " edge(s)" +
    (data.truncated ? " (truncated)" : "");
  document.body.dataset.rendered = "1";
})();
</script>
</body>
</html>
"""
