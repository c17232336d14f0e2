"""The execution order of a ComfyUI prompt graph: each node after its sources, the lowest
id first among the nodes ready at once, whatever the ids, links and cycles."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from repro.capture.comfyui_graph import Graph
from repro.capture.comfyui_nodes import is_link, node_id_key

#: Plain numbers, a number spelled twice ("7", "07"), group ids, words, a non-ASCII digit.
IDS = ["1", "2", "3", "7", "07", "9", "10", "12:5", "12:10", "a", "²"]


def _key(node_id: str) -> Any:
    numeric = node_id.isascii() and node_id.isdigit()
    return ((int(node_id), ()) if numeric else (-1, node_id_key(node_id)), node_id)


def reference_order(graph: dict[str, Any]) -> list[str]:
    """The order by its definition, slowly: again and again, the lowest ready node."""
    sources = {n: {str(v[0]) for v in node["inputs"].values() if is_link(v)} & graph.keys()
               for n, node in graph.items()}
    done: set[str] = set()
    order: list[str] = []
    while ready := [n for n in graph if n not in done and sources[n] <= done]:
        first = min(ready, key=_key)
        order.append(first)
        done.add(first)
    return order


def _graph(draw: st.DrawFn) -> dict[str, Any]:
    ids = draw(st.lists(st.sampled_from(IDS), min_size=1, max_size=len(IDS), unique=True))
    graph = {}
    for node_id in ids:
        # Links to nodes of the graph (twice to one source, at times), to a node not in
        # it, and literals.
        targets = st.sampled_from([*ids, "99"])
        inputs = draw(st.dictionaries(
            st.sampled_from(["a", "b", "c", "model", "clip"]),
            st.one_of(st.tuples(targets, st.integers(0, 2)).map(list), st.integers(0, 9)),
            max_size=4))
        graph[node_id] = {"class_type": "Node", "inputs": inputs}
    return graph


@settings(max_examples=300, deadline=None)
@given(st.composite(_graph)())
def test_execution_order_is_the_lowest_ready_node_first(graph: dict[str, Any]) -> None:
    g = Graph(graph)
    assert g.order == reference_order(graph)
    assert g.cyclic == set(graph) - set(g.order)
    assert g.position == {node_id: i for i, node_id in enumerate(g.order)}


def test_a_source_linked_twice_is_waited_for_once_per_link() -> None:
    graph = {"5": {"class_type": "LoraLoader", "inputs": {"model": ["9", 0], "clip": ["9", 1]}},
             "9": {"class_type": "CheckpointLoaderSimple", "inputs": {}},
             "7": {"class_type": "KSampler", "inputs": {"model": ["5", 0]}}}
    assert Graph(graph).order == ["9", "5", "7"]


def test_ids_that_are_the_same_number_keep_an_order() -> None:
    graph = {"07": {"class_type": "A", "inputs": {}}, "7": {"class_type": "B", "inputs": {}},
             "10": {"class_type": "C", "inputs": {"x": ["7", 0]}}}
    assert Graph(graph).order == ["07", "7", "10"]
