"""``repro log --graph``: the ancestry as a text DAG, in the manner of ``git log --graph``.

Each record owns a *lane* (a column) until its parents take it over. A record
with two parents opens a lane to the right (``|\\``); two lanes waiting for
the same parent join (``|/``). Lanes move at most one column a line, so a
long jump is drawn over several lines, as git does.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import PurePath

from repro.record import Record


def topo_order(records: list[Record], parents: Mapping[str, list[str]] | None = None
               ) -> list[Record]:
    """Children before parents; among ready records, the given order is kept."""
    import heapq

    edges = parents if parents is not None else {r.id: r.parent_ids for r in records}
    by_id = {r.id: r for r in records}
    position = {r.id: n for n, r in enumerate(records)}
    pending_children = dict.fromkeys(by_id, 0)
    for r in records:
        for p in set(edges.get(r.id, ())):
            if p in pending_children:
                pending_children[p] += 1
    ready = [position[rid] for rid, n in pending_children.items() if n == 0]
    heapq.heapify(ready)
    order: list[Record] = []
    while ready:
        rid = records[heapq.heappop(ready)].id
        order.append(by_id[rid])
        for p in set(edges.get(rid, ())):
            if p in pending_children:
                pending_children[p] -= 1
                if pending_children[p] == 0:
                    heapq.heappush(ready, position[p])
    seen = {r.id for r in order}
    order += [r for r in records if r.id not in seen]  # cycles cannot happen; be safe
    return order


def label(record: Record) -> str:
    """``<short id> <file name> (<tool>, seed <n>, <level>)``."""
    seed = record.params.get("seed")
    return (f"{record.id[:12]} {PurePath(record.output.path or '?').name} "
            f"({record.tool.name}"
            + (f", seed {seed}" if seed is not None else "") + f", {record.level})")


def _transition(edges: list[tuple[int, int]], width: int) -> Iterator[str]:
    """Lines that move each edge (old column -> new column) one column a line."""
    cur = [(i, j) for i, j in edges]
    if all(i == j for i, j in cur) and len({j for _, j in cur}) == len(cur):
        return
    first = True
    while first or any(i != j for i, j in cur):
        first = False
        chars = [" "] * (2 * width + 1)
        nxt = []
        for i, j in cur:
            step = i + (j > i) - (j < i)
            if step == i:
                chars[2 * i] = "|"
            elif step > i:
                chars[2 * i + 1] = "\\"
            else:
                chars[2 * i - 1] = "/"
            nxt.append((step, j))
        cur = nxt
        yield "".join(chars).rstrip()


def render_text_graph(records: list[Record], parents: Mapping[str, list[str]] | None = None
                      ) -> Iterator[str]:
    """The lines of the graph; ``parents`` (id -> parent ids, e.g. from the index)
    defaults to each record's own ``parents`` field."""
    shown = {r.id for r in records}
    edges_of = parents if parents is not None else {r.id: r.parent_ids for r in records}
    lanes: list[str] = []
    for record in topo_order(records, edges_of):
        if record.id not in lanes:
            lanes.append(record.id)
        col = lanes.index(record.id)
        marks = " ".join("*" if n == col else "|" for n in range(len(lanes)))
        yield f"{marks}  {label(record)}"
        mine = list(dict.fromkeys(p for p in edges_of.get(record.id, ()) if p in shown))
        new: list[str] = []
        moves: list[tuple[int, int]] = []
        later: list[str] = []
        for n, lane in enumerate(lanes):
            if n == col:
                for p in mine:
                    if p in new:
                        moves.append((n, new.index(p)))
                    elif p in lanes[n + 1:]:
                        later.append(p)  # joins a lane further right, placed below
                    else:
                        new.append(p)
                        moves.append((n, len(new) - 1))
            elif lane in new:
                moves.append((n, new.index(lane)))
            else:
                new.append(lane)
                moves.append((n, len(new) - 1))
        moves += [(col, new.index(p)) for p in later]
        if len(new) < len(lanes) or len(mine) > 1:
            yield from _transition(moves, max(len(lanes), len(new)))
        lanes = new
