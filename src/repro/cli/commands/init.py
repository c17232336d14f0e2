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

    In a ComfyUI folder (main.py and comfy/, or extra_model_paths.yaml) or an
    AUTOMATIC1111 / Forge folder (webui.py), or just above one, it also writes
    a .reprorc that names the install, unless one exists.

    \b
    Example:
      repro init ~/art/client-x
    """
    from repro.api.init import init as init_repository

    result = init_repository(state.cwd / path if path else state.cwd)
    if as_json:
        emit_json(result.to_dict())
        return
    click.echo(f"Initialised an empty repro repository in {result.root / '.repro'}")
    for f in result.found:
        name = "ComfyUI" if f.tool == "comfyui" else "AUTOMATIC1111 / Forge"
        click.echo(f"found a {name} install at {f.root} ({f.why})")
    if result.reprorc:
        click.echo(f"wrote {result.reprorc} for it; see `repro config`")
    if result.kept:
        click.echo(f"kept the existing {result.kept}; to use the install, set "
                   f"[{result.found[0].tool}] root = \"{result.found[0].root}\" there")
