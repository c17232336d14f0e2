"""The page ``render_html`` fills in: ``@TITLE@`` and ``@DATA@`` (the graph as JSON).

Layout: ``node.layer`` is a column, ``node.row`` a row of that column (models'
rows are shorter). Versions of one model (same ``group``) are framed together.
A search box dims what does not match (``#q=WORDS`` in the address does the
same on load); ``#select=ID`` opens a node's details; zoom with the buttons or
Ctrl + wheel. The body's ``data-rendered``, ``data-cut-names`` and the details
panel's ``data-overflow`` let a headless browser check the drawing.
"""

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>@TITLE@</title>
<style>
  body { margin: 0; font: 13px/1.35 system-ui, sans-serif; color: #222; background: #fafafa;
         overflow: hidden; }
  header { display: flex; gap: 10px; align-items: center; padding: 6px 14px; background: #334;
           color: #fff; height: 26px; }
  header small { opacity: .75; }
  header .tools { margin-left: auto; display: flex; gap: 4px; align-items: center; }
  header input { width: 220px; padding: 2px 6px; }
  header button { min-width: 28px; }
  #wrap { display: flex; height: calc(100vh - 38px); }
  #scroll { flex: 1; overflow: auto; position: relative; }
  #zoomer { position: relative; }
  #canvas { position: absolute; left: 0; top: 0; transform-origin: 0 0; }
  svg#edges { position: absolute; left: 0; top: 0; pointer-events: none; }
  .edge { fill: none; stroke: #8a8fa3; stroke-width: 1.6; }
  .edge.model { stroke: #b7bdd6; stroke-dasharray: 5 4; opacity: .7; }
  .edge.extras { stroke: #c27c0e; }
  .edge.hot { stroke: #d33; stroke-width: 3; }
  .edge.dim { opacity: .12; }
  .group { position: absolute; border: 1px dashed #7b83b8; border-radius: 8px;
           background: #f3f4fc; }
  .group span { position: absolute; top: -9px; left: 8px; padding: 0 4px; font-size: 11px;
                background: #fafafa; color: #4a5290; white-space: nowrap; }
  .node { position: absolute; box-sizing: border-box; border: 1px solid #99a; border-radius: 6px;
          background: #fff; cursor: pointer; }
  .node:hover, .node.selected { border-color: #d33; box-shadow: 0 0 0 2px #f3c1c1; }
  .node.dim { opacity: .2; }
  .node.match { box-shadow: 0 0 0 3px #ffd54a; }
  .node .name { overflow-wrap: anywhere; }
  .node.output { width: 190px; padding: 6px; text-align: center; }
  .node.output.target { border-width: 3px; }
  .node.output img { display: block; margin: 0 auto 4px; max-width: 160px; max-height: 110px; }
  .node.output .noimg { height: 60px; line-height: 60px; color: #999; }
  .node.model { width: 190px; padding: 5px 8px; background: #eef0fb; }
  .node .role { font-size: 11px; text-transform: uppercase; color: #667; }
  .node .hash, .node .meta { font: 11px monospace; color: #556; overflow-wrap: anywhere; }
  .lvl-full { color: #17803d; } .lvl-approximate { color: #b36b00; }
  .lvl-partial, .lvl-none { color: #b3261e; }
  #details { width: 360px; overflow-y: auto; overflow-x: hidden; border-left: 1px solid #ccd;
             padding: 10px 14px; background: #fff; box-sizing: border-box; }
  #details h2 { font-size: 15px; margin: 4px 0 8px; overflow-wrap: anywhere; }
  #details h3 { font-size: 12px; margin: 12px 0 4px; text-transform: uppercase; color: #667; }
  #details .meta { font: 11px monospace; color: #556; overflow-wrap: anywhere; }
  #details table { width: 100%; table-layout: fixed; border-collapse: collapse; }
  #details th { width: 34%; text-align: left; font-weight: 600; color: #445; }
  #details th, #details td { padding: 3px 4px; border-bottom: 1px solid #eef; vertical-align: top;
                             overflow-wrap: anywhere; white-space: pre-wrap; }
</style>
</head>
<body>
<header>@TITLE@ <small id="counts"></small>
  <span class="tools">
    <input id="search" type="search" placeholder="search names, prompts, seeds, models">
    <small id="found"></small>
    <button id="zoom-out" title="zoom out">&minus;</button>
    <button id="zoom-in" title="zoom in">+</button>
    <button id="zoom-fit" title="fit the whole graph">fit</button>
  </span>
</header>
<div id="wrap">
  <div id="scroll"><div id="zoomer"><div id="canvas">
    <svg id="edges" xmlns="http://www.w3.org/2000/svg"></svg></div></div></div>
  <aside id="details"><p>Click an image or a model to see its parameters.</p></aside>
</div>
<script type="application/json" id="graph-data">@DATA@</script>
<script>
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("graph-data").textContent);
  var canvas = document.getElementById("canvas"), zoomer = document.getElementById("zoomer");
  var scroll = document.getElementById("scroll"), svg = document.getElementById("edges");
  var details = document.getElementById("details");
  var COL = 240, ROW = 215, ROW_MODEL = 92, PAD = 28;
  var byId = {}, boxes = {}, width = 0, height = 0, zoom = 1;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function haystack(n) {
    var parts = [n.label, n.path, n.id, n.tool, n.seed, n.role, n.name, n.level];
    if (n.details) {
      n.details.params.forEach(function (p) { parts.push(p[1]); });
      n.details.models.forEach(function (m) { parts.push(m.join(" ")); });
    }
    return parts.filter(function (p) { return p !== null && p !== undefined; })
      .join(" ").toLowerCase();
  }

  data.nodes.forEach(function (n) {
    byId[n.id] = n;
    n.text = haystack(n);
    var box = el("div", "node " + n.kind + (n.target ? " target" : ""));
    box.dataset.id = n.id;
    box.style.left = (PAD + n.layer * COL) + "px";
    box.style.top = (PAD + n.row * (n.kind === "model" ? ROW_MODEL : ROW)) + "px";
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
      box.appendChild(el("div", "meta", n.short + " " + (n.tool || "?") +
        (n.seed !== null && n.seed !== undefined ? " seed " + n.seed : "")));
      box.appendChild(el("div", "meta lvl-" + n.level, n.level));
      box.title = n.path || n.label;
    } else {
      box.appendChild(el("div", "role", n.role || "model"));
      box.appendChild(el("div", "name", n.label));
      box.appendChild(el("div", "hash", n.short));
      box.title = (n.path || n.name || "") + "\\nblake3 " + (n.blake3 || "unknown");
    }
    canvas.appendChild(box);
    boxes[n.id] = box;
  });

  // Model columns stack their boxes by height (long names wrap), versions of one name
  // together with room for their frame's label.
  var stack = {};
  data.nodes.filter(function (n) { return n.kind === "model"; })
    .sort(function (a, b) { return a.layer - b.layer || a.row - b.row; })
    .forEach(function (n) {
      var s = stack[n.layer] || {y: PAD + 8, group: null};
      if (s.group !== null && s.group !== n.group) s.y += 14;
      boxes[n.id].style.top = s.y + "px";
      s.y += boxes[n.id].offsetHeight + 8;
      s.group = n.group;
      stack[n.layer] = s;
    });

  function geometry(id) {
    var b = boxes[id];
    return {x: b.offsetLeft, y: b.offsetTop, w: b.offsetWidth, h: b.offsetHeight};
  }

  // The versions of one model, framed together (per column).
  var groups = {};
  data.nodes.forEach(function (n) {
    if (n.kind !== "model") return;
    var key = n.group + "@" + n.layer;
    (groups[key] = groups[key] || []).push(n);
  });
  Object.keys(groups).forEach(function (key) {
    var members = groups[key];
    var all = data.nodes.filter(function (n) { return n.kind === "model" && n.group === members[0].group; });
    if (all.length < 2) return;
    var top = Infinity, bottom = 0, left = Infinity, right = 0;
    members.forEach(function (n) {
      var g = geometry(n.id);
      top = Math.min(top, g.y); bottom = Math.max(bottom, g.y + g.h);
      left = Math.min(left, g.x); right = Math.max(right, g.x + g.w);
    });
    var frame = el("div", "group");
    frame.style.left = (left - 8) + "px"; frame.style.top = (top - 12) + "px";
    frame.style.width = (right - left + 16) + "px"; frame.style.height = (bottom - top + 20) + "px";
    frame.appendChild(el("span", null, all.length + " versions"));
    frame.dataset.group = members[0].group;
    canvas.insertBefore(frame, canvas.firstChild);
  });

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

  function setZoom(z) {
    zoom = Math.max(0.1, Math.min(2, z));
    canvas.style.transform = "scale(" + zoom + ")";
    zoomer.style.width = (width * zoom) + "px"; zoomer.style.height = (height * zoom) + "px";
    document.body.dataset.zoom = zoom.toFixed(2);
  }
  setZoom(1);
  document.getElementById("zoom-in").onclick = function () { setZoom(zoom * 1.25); };
  document.getElementById("zoom-out").onclick = function () { setZoom(zoom / 1.25); };
  document.getElementById("zoom-fit").onclick = function () {
    setZoom(Math.min(1, scroll.clientWidth / width, scroll.clientHeight / height));
  };
  scroll.addEventListener("wheel", function (ev) {
    if (!ev.ctrlKey) return;
    ev.preventDefault();
    setZoom(zoom * (ev.deltaY < 0 ? 1.1 : 1 / 1.1));
  }, {passive: false});

  function highlight(id, on) {
    paths.forEach(function (p) {
      if (p.dataset.source === id || p.dataset.target === id) p.classList.toggle("hot", on);
    });
  }

  function table(rows, head) {
    var t = el("table");
    if (head) {
      var hr = el("tr");
      head.forEach(function (h) { hr.appendChild(el("th", null, h)); });
      t.appendChild(hr);
    }
    rows.forEach(function (r) {
      var tr = el("tr");
      r.forEach(function (cell, i) { tr.appendChild(el(i === 0 && !head ? "th" : "td", null, cell)); });
      t.appendChild(tr);
    });
    return t;
  }

  function show(n) {
    details.textContent = "";
    details.appendChild(el("h2", null, n.kind === "output" ? n.label : (n.role + " " + n.label)));
    if (n.kind === "output") {
      details.appendChild(el("div", "meta", "record " + n.id));
      details.appendChild(el("div", "meta", n.path));
      details.appendChild(el("div", "meta lvl-" + n.level, "level " + n.level));
      var d = n.details;
      if (d) {
        if (d.tool) details.appendChild(el("div", "meta", "tool " + d.tool));
        details.appendChild(el("h3", null, "parameters"));
        var params = table(d.params);
        params.className = "params";
        details.appendChild(params);
        if (d.models.length) {
          details.appendChild(el("h3", null, "models"));
          details.appendChild(table(d.models, ["role", "name", "strength", "blake3"]));
        }
        if (d.inputs.length) {
          details.appendChild(el("h3", null, "inputs"));
          details.appendChild(table(d.inputs.map(function (i) { return [i]; })));
        }
        if (d.reasons.length) {
          details.appendChild(el("h3", null, "why not full"));
          details.appendChild(table(d.reasons.map(function (r) { return [r]; })));
        }
        if (d.message) details.appendChild(el("p", null, d.message));
      }
    } else {
      details.appendChild(el("div", "meta", "blake3 " + (n.blake3 || "unknown")));
      details.appendChild(el("div", "meta", n.path || n.name || ""));
    }
    var used = paths.filter(function (p) { return p.dataset.target === n.id; })
      .map(function (p) { return [(byId[p.dataset.source] || {}).label, p.dataset.kind]; });
    if (used.length) {
      details.appendChild(el("h3", null, "made from"));
      details.appendChild(table(used));
    }
    details.dataset.overflow = details.scrollWidth > details.clientWidth + 1 ? "1" : "0";
  }

  function select(id) {
    var box = boxes[id];
    if (!box) return;
    document.querySelectorAll(".node.selected").forEach(function (b) { b.classList.remove("selected"); });
    box.classList.add("selected");
    show(byId[id]);
  }

  function search(q) {
    q = (q || "").trim().toLowerCase();
    var found = [];
    data.nodes.forEach(function (n) {
      var hit = q && q.split(/\\s+/).every(function (w) { return n.text.indexOf(w) >= 0; });
      boxes[n.id].classList.toggle("match", !!hit);
      boxes[n.id].classList.toggle("dim", !!q && !hit);
      if (hit) found.push(n.id);
    });
    paths.forEach(function (p) {
      p.classList.toggle("dim", !!q && found.indexOf(p.dataset.source) < 0 &&
                                found.indexOf(p.dataset.target) < 0);
    });
    document.getElementById("found").textContent = q ? found.length + " found" : "";
    document.body.dataset.found = found.length;
    return found;
  }
  var input = document.getElementById("search");
  input.addEventListener("input", function () { search(input.value); });
  input.addEventListener("keydown", function (ev) {
    if (ev.key !== "Enter") return;
    var found = search(input.value);
    if (found.length) { boxes[found[0]].scrollIntoView({block: "center", inline: "center"}); select(found[0]); }
  });

  canvas.addEventListener("click", function (ev) {
    var box = ev.target.closest(".node");
    if (box) select(box.dataset.id);
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
  var cut = 0;
  document.querySelectorAll(".node .name").forEach(function (e) {
    if (e.scrollWidth > e.clientWidth + 1 || e.getBoundingClientRect().width === 0) cut++;
  });
  document.body.dataset.cutNames = cut;
  var hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("q")) { input.value = hash.get("q"); search(hash.get("q")); }
  if (hash.get("select")) select(hash.get("select"));
  document.body.dataset.rendered = "1";
})();
</script>
</body>
</html>
"""
