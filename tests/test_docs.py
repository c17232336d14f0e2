"""Docs kept honest: every command documented with an example, every config key real."""

from __future__ import annotations

import tomllib
from pathlib import Path

import click
import pytest

from repro.cli import cli
from repro.config import DEFAULTS, load_config
from tests.paths import ROOT


def commands() -> list[str]:
    return sorted(cli.list_commands(click.Context(cli)))


@pytest.mark.parametrize("name", commands())
def test_every_command_has_help_ending_with_an_example(name: str) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert isinstance(command, click.Command)
    help_text = command.help or ""
    assert "Example" in help_text, f"{name} --help has no example"
    assert help_text.rstrip().splitlines()[-1].strip().startswith("repro "), name


@pytest.mark.parametrize("name", commands())
def test_every_command_is_in_the_cli_reference(name: str) -> None:
    reference = (ROOT / "docs" / "cli.md").read_text()
    assert f"`repro {name}" in reference, f"docs/cli.md does not document repro {name}"


def test_reprorc_example_lists_exactly_the_real_keys() -> None:
    example = tomllib.loads((ROOT / ".reprorc.example").read_text())
    assert {s: set(t) for s, t in example.items()} == {s: set(t) for s, t in DEFAULTS.items()}


def test_reprorc_example_loads_as_a_config(tmp_path: Path) -> None:
    (tmp_path / ".reprorc").write_text((ROOT / ".reprorc.example").read_text())
    config = load_config(tmp_path, home=tmp_path / "nohome")
    assert config.get("store", "mode") == "copy"
    assert config.model_roots == [(tmp_path / "models").resolve()]


def test_unknown_config_key_is_an_error(tmp_path: Path) -> None:
    from repro.errors import UsageError

    (tmp_path / ".reprorc").write_text("[store]\nmoed = 'copy'\n")
    with pytest.raises(UsageError, match=r"store\.moed"):
        load_config(tmp_path, home=tmp_path / "nohome")


def test_readme_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    blocks = [b.split("```")[0].strip() for b in text.split("```sh\n")[1:3]]
    assert "repro demo" in blocks[0]
    assert "pytest" in blocks[1] and ".[test]" in blocks[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install -q -e '.[test]' && python -m pytest" in ci
