"""``repro.comfyui`` sits below ``repro.api``; ``repro.watch`` above it."""

from __future__ import annotations

import ast
from pathlib import Path

import repro

SRC = Path(repro.__file__).parent


def _imports(package: str) -> set[str]:
    found: set[str] = set()
    for path in (SRC / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
    return found


def test_comfyui_does_not_import_api_watch_or_cli() -> None:
    bad = {m for m in _imports("comfyui")
           if m.startswith(("repro.api", "repro.watch", "repro.cli"))}
    assert bad == set()


def test_nothing_below_watch_imports_it() -> None:
    for package in ("api", "capture", "comfyui", "environment", "lineage", "models", "objects"):
        assert not {m for m in _imports(package) if m.startswith("repro.watch")}, package
