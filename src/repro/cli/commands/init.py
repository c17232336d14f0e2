"""``repro init``."""

from __future__ import annotations

from pathlib import Path

import click

from repro.cli.options import State, json_option
from repro.cli.render import emit_json


@click.command()
@click.argument("path", required=False, type=click.Path(file_okay=False, path_type=Path))
@json_option
@click.pass_obj
def init(state: State, path: Path | None, as_json: bool) -> None:
    """Create a repository (a .repro folder) in PATH (default: here).

    \b
    Example:
      repro init ~/art/client-x
    """
    from repro.api.repository import Repository

    repo = Repository.init(state.cwd / path if path else state.cwd)
    if as_json:
        emit_json({"root": str(repo.root)})
    else:
        click.echo(f"Initialised an empty repro repository in {repo.dot}")
