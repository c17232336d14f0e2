"""``repro log --graph``: the ancestry as a text DAG, in the manner of ``git log --graph``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePath

from repro.lineage.record import Record


def topo_order(records: list[Record]) -> list[Record]:
    """Children before parents; among ready records, the given order is kept."""
    by_id = {r.id: r for r in records}
    pending_children = {r.id: 0 for r in records}
    for r in records:
        for p in r.parents:
            if p in pending_children:
                pending_children[p] += 1
    ready = [r.id for r in records if pending_children[r.id] == 0]
    order: list[Record] = []
    position = {r.id: n for n, r in enumerate(records)}
    while ready:
        ready.sort(key=position.__getitem__)
        rid = ready.pop(0)
        order.append(by_id[rid])
        for p in by_id[rid].parents:
            if p in pending_children:
                pending_children[p] -= 1
                if pending_children[p] == 0:
                    ready.append(p)
    seen = {r.id for r in order}
    order += [r for r in records if r.id not in seen]  # cycles cannot happen; be safe
    return order


def label(record: Record) -> str:
    params = record.params
    seed = params.get("seed")
    parts = [record.id[:12], PurePath(record.output.get("path") or "?").name,
             f"({record.tool_name or 'unknown'}"
             + (f", seed {seed}" if seed is not None else "") + f", {record.level})"]
    return " ".join(parts)


def render_text_graph(records: list[Record]) -> Iterator[str]:
    shown = {r.id for r in records}
    lanes: list[str] = []
    for record in topo_order(records):
        if record.id not in lanes:
            lanes.append(record.id)
        col = lanes.index(record.id)
        yield " ".join("*" if n == col else "|" for n in range(len(lanes))) + "  " + label(record)
        parents = [p for p in record.parents if p in shown]
        new_lanes = lanes[:col]
        merged = []
        for p in parents:
            if p in lanes[:col] or p in lanes[col + 1:] or p in new_lanes:
                merged.append(p)
            else:
                new_lanes.append(p)
        new_lanes += [lane for lane in lanes[col + 1:] if lane not in new_lanes]
        if len(parents) > 1 or merged:
            yield " ".join("|" for _ in range(col)) + (" " if col else "") + "|\\" * (
                1 if len(parents) > 1 else 0) + ("  (merges into an existing line)"
                                                 if merged else "")
        lanes = new_lanes
