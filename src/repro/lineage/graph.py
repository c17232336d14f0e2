"""The lineage graph as a picture or a document: outputs, models and the edges between them.

``build_graph`` collects a bounded part of the index (one record's ancestry
and descendants, or the newest records) into plain ``Node``/``Edge`` values
(``lineage.graph_types``);
``to_json`` and ``to_dot`` write them without further imports. networkx is
imported only here, and only for what needs a graph library: GraphML and the
generation layout of the HTML picture. Its types never leave this module.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from repro.errors import UsageError
from repro.lineage.graph_types import Edge, LineageGraph, Node

if TYPE_CHECKING:
    from repro.lineage.index import Index

#: Records drawn at most when no target narrows the graph (newest first).
MAX_RECORDS = 2000
FORMATS = ("dot", "json", "graphml", "html")


def build_graph(index: Index, target: str | None = None, *,
                limit: int = MAX_RECORDS) -> LineageGraph:
    """The target's ancestors and descendants (or the newest ``limit`` records),
    the models they used, and every edge among them, from the index alone."""
    if target is not None:
        ids = [*reversed(index.ancestors(target, limit)), target,
               *index.descendants(target, limit)]
        ids = list(dict.fromkeys(ids))
    else:
        ids = index.all_ids(newest_first=True, limit=limit + 1)
    truncated = len(ids) > limit
    ids = ids[:limit] if target is None else ids
    summaries = index.summaries(ids)
    nodes: list[Node] = []
    for rid in ids:
        s = summaries.get(rid, {})
        file_name = PurePosixPath(s.get("path") or "?").name
        nodes.append(Node(rid, "output", file_name, {
            "path": s.get("path"), "tool": s.get("tool"), "seed": s.get("seed"),
            "level": s.get("level"), "output": s.get("output"),
            "captured_at": s.get("captured_at")}))
    edges = [Edge(parent, child, kind) for child, parent, kind in index.edges_within(ids)]
    models: dict[str, Node] = {}
    for rid, blake3, role, name, path in index.models_of(ids):
        mid = f"model:{blake3}" if blake3 else f"model:name:{role}:{name}"
        if mid not in models:
            label = PurePosixPath(name or path or "?").name
            models[mid] = Node(mid, "model", label, {"role": role, "blake3": blake3,
                                                     "name": name, "path": path})
        edges.append(Edge(mid, rid, "model"))
    known = [m.attrs["blake3"] for m in models.values() if m.attrs["blake3"]]
    for model, base, base_name in index.model_bases(known):
        bid = f"model:{base}" if base else f"model:name:checkpoint:{base_name}"
        if bid not in models:
            models[bid] = Node(bid, "model", PurePosixPath(base_name or base or "?").name,
                               {"role": "checkpoint", "blake3": base, "name": base_name,
                                "path": None})
        edges.append(Edge(bid, f"model:{model}", "base"))
    nodes += sorted(models.values(), key=lambda n: (n.attrs["role"] or "", n.label, n.id))
    edges = list(dict.fromkeys(edges))
    return LineageGraph(nodes, edges, target, truncated)


# -- documents -------------------------------------------------------------------


def to_json(graph: LineageGraph) -> dict[str, Any]:
    """``{"target", "truncated", "nodes": [{id, kind, label, ...}], "edges": [{source, target, kind}]}``."""
    return graph.to_dict()


def _dot_quote(text: Any) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(graph: LineageGraph) -> str:
    """Graphviz DOT: models as boxes with short hashes, outputs as ellipses."""
    lines = ["digraph lineage {", "  rankdir=LR;", '  node [fontname="sans-serif"];']
    for n in graph.nodes:
        if n.kind == "model":
            text = f"{n.attrs.get('role')}\\n{n.label}\\n{(n.attrs.get('blake3') or 'unknown')[:12]}"
            lines.append(f"  {_dot_quote(n.id)} [shape=box, style=filled, fillcolor=\"#eef\", "
                         f"label=\"{text.replace(chr(34), '')}\"];")
        else:
            seed = n.attrs.get("seed")
            text = (f"{n.id[:12]}\\n{n.label}\\n{n.attrs.get('tool')}"
                    + (f", seed {seed}" if seed is not None else "") + f", {n.attrs.get('level')}")
            peripheries = 2 if n.id == graph.target else 1
            lines.append(f"  {_dot_quote(n.id)} [shape=ellipse, peripheries={peripheries}, "
                         f"label=\"{text.replace(chr(34), '')}\"];")
    for e in graph.edges:
        style = "dashed" if e.kind == "model" else "solid"
        lines.append(f"  {_dot_quote(e.source)} -> {_dot_quote(e.target)} "
                     f"[style={style}, label={_dot_quote(e.kind)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _nx_graph(graph: LineageGraph) -> Any:
    import networkx as nx

    g = nx.DiGraph()
    for n in graph.nodes:
        # GraphML holds scalars only: absent values are left out, others are text or numbers.
        attrs = {k: (v if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v))
                 for k, v in n.attrs.items() if v is not None}
        g.add_node(n.id, kind=n.kind, label=n.label, **attrs)
    for e in graph.edges:
        g.add_edge(e.source, e.target, kind=e.kind)
    return g


def to_graphml(graph: LineageGraph) -> str:
    """GraphML (through networkx)."""
    import networkx as nx

    return "\n".join(nx.generate_graphml(_nx_graph(graph))) + "\n"


#: Rows in one column of the picture before a generation wraps into another column.
MIN_ROWS, MAX_ROWS = 6, 24


def model_group(node: Node) -> str:
    """The name a model's versions share (role and file name without extension): two
    versions of ``dreamshaper_8.safetensors`` are one group of the picture."""
    name = PurePosixPath(str(node.attrs.get("name") or node.label)).name
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return f"{node.attrs.get('role') or 'model'}:{stem.lower()}"


def layout(graph: LineageGraph) -> dict[str, tuple[int, int]]:
    """``{node id: (column, row)}`` by generation: models first (each name's versions
    side by side, oldest use first), then each output one generation past its deepest
    parent. A generation longer than the square root of the node count (6 to 24 rows)
    wraps into several columns, so that a whole store is not one tall column; rows are
    ordered by the mean row of each node's predecessors to keep edges short."""
    import math

    import networkx as nx

    g = _nx_graph(graph)
    generation: dict[str, int] = {}
    for node in nx.topological_sort(g):
        if g.nodes[node]["kind"] == "model":
            generation[node] = 0
        else:
            generation[node] = 1 + max((generation[p] for p in g.predecessors(node)
                                        if g.nodes[p]["kind"] == "output"), default=0)
    by_generation: dict[int, list[str]] = {}
    for node, n in generation.items():
        by_generation.setdefault(n, []).append(node)
    height = max(MIN_ROWS, min(MAX_ROWS, math.ceil(math.sqrt(max(len(generation), 1)))))
    nodes = {n.id: n for n in graph.nodes}
    first_use: dict[str, str] = {}
    for e in graph.edges:
        used = g.nodes[e.target].get("captured_at") if e.target in g else None
        if e.kind == "model" and isinstance(used, str):
            first_use[e.source] = min(first_use.get(e.source, used), used)
    rows: dict[str, float] = {}
    placed: dict[str, tuple[int, int]] = {}
    column = 0
    for n in sorted(by_generation):
        members = by_generation[n]
        if n == 0 and not any(g.nodes[m]["kind"] == "output" for m in members):
            members.sort(key=lambda m: (g.nodes[m].get("role", ""), model_group(nodes[m]),
                                        first_use.get(m, "~"), m))
        else:
            def centre(node: str) -> float:
                found = [rows[p] for p in g.predecessors(node) if p in rows]
                return sum(found) / len(found) if found else 0.0
            members.sort(key=lambda m: (centre(m), g.nodes[m].get("captured_at", ""), m))
        for i, node in enumerate(members):
            rows[node] = i * height / max(len(members), 1)
            placed[node] = (column + i // height, i % height)
        column += math.ceil(len(members) / height)
    return placed


def render(graph: LineageGraph, fmt: str, *, load_record: Callable[[str], Any] | None = None,
           thumbnail: Callable[[str], bytes | None] | None = None) -> str:
    """The graph in ``fmt`` (``dot``, ``json``, ``graphml`` or ``html``) as text."""
    if fmt == "dot":
        return to_dot(graph)
    if fmt == "json":
        import orjson

        return orjson.dumps(to_json(graph), option=orjson.OPT_INDENT_2).decode() + "\n"
    if fmt == "graphml":
        return to_graphml(graph)
    if fmt == "html":
        from repro.lineage.render_html import render_html

        return render_html(graph, layout(graph), load_record=load_record,
                           thumbnail=thumbnail, groups=model_group)
    raise UsageError(f"unknown graph format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
