"""The shape of the package, read from the source: imports go down the layers
of DESIGN.md, no module imports itself back, no module is over 400 lines.

Every ``import`` counts, wherever it is: at the top, inside a function, or
under ``if TYPE_CHECKING:`` (a type-only import still ties two modules together).
The allow-lists name today's exceptions; they may only shrink, so an entry
that is no longer needed fails the test until it is removed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"

#: Layer of each top-level part of ``repro``; an import may only reach a part
#: of the same layer or a lower one (DESIGN.md "Layers").
LAYERS: dict[str, int] = {
    # leaves: ``repro.record`` (the record's types), the verdict over them, errors, config
    "repro": 0, "repro.errors": 0, "repro.config": 0, "repro.record": 0, "repro.verdict": 0,
    # bytes and files: the object store and the bounded readers of untrusted input
    "repro.objects": 1, "repro.jsonsafe": 1, "repro.imaging": 1,
    # what a generation used and how it relates to others
    "repro.capture": 2, "repro.models": 2, "repro.lineage": 2, "repro.environment": 2,
    "repro.comfyui": 2, "repro.credentials": 2, "repro.remote": 2,
    # one function per command; the demo story is told through the API
    "repro.api": 3, "repro.demo": 3,
    # watching folders and ComfyUI calls api.add
    "repro.watch": 4,
    "repro.cli": 5,
}

#: Parts that may import nothing from repro but themselves.
LEAVES = ("repro.record",)

#: Import cycles of today, as the set of modules each ties together.
ALLOWED_CYCLES: dict[frozenset[str], str] = {
}

MAX_LINES = 400
#: Modules over ``MAX_LINES`` today.
ALLOWED_LONG: dict[str, str] = {
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted((SRC / "repro").rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The repro modules an import statement in ``module`` loads."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module.split(".")
            if MODULES[module].name != "__init__.py":
                package = package[:-1]
            package = package[:len(package) - node.level + 1]
            base = ".".join([*package, base] if base else package)
        # ``from a import b`` loads module ``a.b`` when there is one, else ``a``.
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                 for alias in node.names]
    for name in names:
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name and name != module:
            yield name


def _imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        graph[module] = {target for node in ast.walk(tree)
                         if isinstance(node, ast.Import | ast.ImportFrom)
                         for target in _targets(module, node)}
    return graph


IMPORTS = _imports()


def _part(module: str) -> str:
    return ".".join(module.split(".")[:2])


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) per strongly connected set of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_cycle_through(graph, group) for group in groups]


def _cycle_through(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A path from the group's first module back to itself, inside the group."""
    start = min(group)
    paths = {start: [start]}
    todo = [start]
    while todo:
        v = todo.pop(0)
        for w in sorted(graph[v] & group):
            if w == start:
                return [*paths[v], start]
            if w not in paths:
                paths[w] = [*paths[v], w]
                todo.append(w)
    raise AssertionError(f"no cycle through {group}")


def test_every_part_has_a_layer() -> None:
    assert {_part(m) for m in MODULES} <= LAYERS.keys()


def test_no_import_cycles() -> None:
    cycles = _cycles(IMPORTS)
    found = {frozenset(cycle): " -> ".join(cycle) for cycle in cycles}
    new = [text for members, text in found.items() if members not in ALLOWED_CYCLES]
    assert not new, "import cycles: " + "; ".join(new)
    gone = [sorted(members) for members in ALLOWED_CYCLES if members not in found]
    assert not gone, f"no longer cycles, remove from ALLOWED_CYCLES: {gone}"


def test_imports_go_down_the_layers() -> None:
    upward = [f"{module} imports {target}" for module, targets in sorted(IMPORTS.items())
              for target in sorted(targets)
              if LAYERS[_part(target)] > LAYERS[_part(module)]]
    assert not upward


def test_no_cycle_between_parts_of_one_layer() -> None:
    # Parts of one layer may use each other (comfyui reads with capture), one way only.
    parts: dict[str, set[str]] = {}
    for module, targets in IMPORTS.items():
        parts.setdefault(_part(module), set()).update(
            _part(t) for t in targets if _part(t) != _part(module))
    assert not [" -> ".join(cycle) for cycle in _cycles(parts)]


@pytest.mark.parametrize("leaf", LEAVES)
def test_leaves_import_nothing_else_from_repro(leaf: str) -> None:
    outside = [f"{module} imports {target}" for module, targets in sorted(IMPORTS.items())
               if _part(module) == leaf for target in sorted(targets) if _part(target) != leaf]
    assert not outside


def test_no_module_over_400_lines() -> None:
    lengths = {module: len(path.read_text(encoding="utf-8").splitlines())
               for module, path in MODULES.items()}
    long = {module: n for module, n in lengths.items() if n > MAX_LINES}
    new = {module: n for module, n in long.items() if module not in ALLOWED_LONG}
    assert not new, f"over {MAX_LINES} lines: {new}"
    gone = sorted(ALLOWED_LONG.keys() - long.keys())
    assert not gone, f"no longer over {MAX_LINES} lines, remove from ALLOWED_LONG: {gone}"


def test_the_checks_see_imports_everywhere() -> None:
    # A function-level import (graph -> render_html) and a type-only one are seen.
    assert "repro.lineage.render_html" in IMPORTS["repro.lineage.graph"]
    assert "repro.lineage.index" in IMPORTS["repro.lineage.graph"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
