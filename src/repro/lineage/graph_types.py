"""The lineage graph's plain values: ``Node``, ``Edge`` and ``LineageGraph``.

Their own module so that ``graph`` (which builds and renders them) and
``render_html`` (which draws them) both import them without importing each
other. Leaves: they import nothing from repro.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Node:
    """An output (``kind="output"``, id = record id) or a model version
    (``kind="model"``, id = ``model:<blake3>`` or ``model:name:<name>``)."""

    id: str
    kind: str
    label: str
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Edge:
    """``source`` flows into ``target``: parent -> child or model -> output.

    Kinds: ``parent`` (named in the child's record), ``input`` (found by
    content by the index, e.g. a parent captured after its child), ``extras``
    (an A1111 Extras result and its source), ``model``."""

    source: str
    target: str
    kind: str


@dataclass
class LineageGraph:
    nodes: list[Node]
    edges: list[Edge]
    target: str | None = None
    truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "truncated": self.truncated,
                "nodes": [{"id": n.id, "kind": n.kind, "label": n.label, **n.attrs}
                          for n in self.nodes],
                "edges": [{"source": e.source, "target": e.target, "kind": e.kind}
                          for e in self.edges]}
