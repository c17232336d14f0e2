"""``log --graph`` lanes, as ``git log --graph`` draws them."""

from __future__ import annotations

from repro.lineage.textgraph import render_text_graph
from repro.record import Record
from tests.helpers import record_of


def graph(spec: list[tuple[str, str]]) -> list[Record]:
    """Records from ``[(name, parent names)]``, listed children first."""
    return [record_of({"parents": [p * 64 for p in parents],
                       "output": {"blake3": name * 64, "path": f"out/{name}.png"},
                       "tool": {"name": "comfyui"}, "params": {"seed": ord(name)},
                       "reproducibility": {"level": "full"}}, name * 64)
            for name, parents in spec]


def shape(lines: list[str]) -> list[str]:
    """Only the lane drawing and the short id's first letter."""
    out = []
    for line in lines:
        marks, _, rest = line.partition("  ")
        out.append(marks + (" " + rest[0] if rest else ""))
    return out


def test_merge_and_fork() -> None:
    lines = list(render_text_graph(graph([("e", "dc"), ("d", "b"), ("c", "b"), ("b", "a"),
                                          ("a", "")])))
    assert shape(lines) == ["* e", "|\\", "* | d", "| * c", "|/", "* b", "* a"]
    assert lines[0] == "*  " + "e" * 12 + " e.png (comfyui, seed 101, full)"


def test_two_children_of_one_parent_and_a_shortcut_edge() -> None:
    lines = list(render_text_graph(graph([("f", "e"), ("g", "e"), ("e", "da"), ("d", "a"),
                                          ("a", "")])))
    assert shape(lines) == ["* f", "| * g", "|/", "* e", "|\\", "* | d", "|/", "* a"]


def test_parents_from_the_index_override_the_records() -> None:
    records = graph([("c", ""), ("b", ""), ("a", "")])
    lines = list(render_text_graph(records, {"c" * 64: ["a" * 64], "b" * 64: ["a" * 64]}))
    assert shape(lines) == ["* c", "| * b", "|/", "* a"]
    assert shape(list(render_text_graph(records))) == ["* c", "* b", "* a"]


def test_a_lane_far_to_the_right_moves_one_column_a_line() -> None:
    lines = list(render_text_graph(graph([("x", "a"), ("y", "a"), ("z", "a"), ("a", "")])))
    assert shape(lines) == ["* x", "| * y", "|/", "| * z", "|/", "* a"]
