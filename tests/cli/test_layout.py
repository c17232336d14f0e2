"""The CLI's shape: one module per command, an explicit list, a light import."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import click

import repro
import repro.cli
from repro.cli import COMMANDS, cli

CLI = Path(repro.__file__).parent / "cli"


def test_every_command_module_is_in_the_explicit_list() -> None:
    modules = {p.stem for p in (CLI / "commands").glob("*.py") if p.stem != "__init__"}
    assert {name for name, _ in COMMANDS} == modules
    assert set(cli.list_commands(click.Context(cli))) == modules
    for name, module in COMMANDS:
        command = getattr(importlib.import_module(module), name)
        assert isinstance(command, click.Command) and command.name == name


def test_no_cli_module_is_long() -> None:
    for path in CLI.rglob("*.py"):
        assert len(path.read_text().splitlines()) <= 400, path


def test_only_the_cli_package_imports_click() -> None:
    src = Path(repro.__file__).parent
    for path in src.rglob("*.py"):
        if CLI in path.parents:
            continue
        tree = ast.parse(path.read_text())
        names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names}
        names |= {node.module for node in ast.walk(tree)
                  if isinstance(node, ast.ImportFrom) and node.module}
        assert not {n for n in names if n == "click" or n.startswith("click.")}, path


def test_importing_the_cli_loads_no_library_layer() -> None:
    """``repro --help`` stays fast: commands import what they use when they run."""
    code = ("import sys, repro.cli; print('\\n'.join(sorted(sys.modules)))")
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout.split())
    heavy = {m for m in loaded if m.split(".")[0] in {
        "PIL", "networkx", "dulwich", "orjson", "sqlite3", "blake3", "tomllib"}
        or m.startswith(("repro.api", "repro.capture", "repro.lineage", "repro.objects",
                         "repro.models", "repro.environment", "repro.watch", "repro.comfyui",
                         "repro.record", "repro.cli.commands."))}
    assert heavy == set()


def test_running_a_command_imports_only_its_module() -> None:
    """``repro COMMAND`` loads one command module (``--help`` of the group loads them all)."""
    code = ("import sys\nfrom repro.cli import main\nmain(['--version'])\nmain(['tag', '--help'])\n"
            "print('\\n'.join(m for m in sys.modules if m.startswith('repro.cli.commands.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert [m for m in out if m.startswith("repro.cli.commands.")] == ["repro.cli.commands.tag"]
