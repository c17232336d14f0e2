"""``repro export``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from repro.cli.options import State, json_option, target_record
from repro.cli.render import emit_json


@click.command()
@click.argument("target")
@click.option("--format", "format_", type=click.Choice(["api", "workflow", "a1111"]),
              required=True, help="api: the executed prompt (ComfyUI API JSON); workflow: "
                                  "the editor workflow; a1111: an infotext.")
@click.option("-o", "output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to FILE instead of stdout.")
@json_option
@click.pass_obj
def export(state: State, target: str, format_: str, output: Path | None,
           as_json: bool) -> None:
    """TARGET's recipe in a tool's own form.

    api: the executed prompt as the server ran it (POST /prompt takes it as
    "prompt"); workflow: the UI workflow to drag back into ComfyUI; a1111: an
    AUTOMATIC1111 infotext, where the record allows one.

    \b
    Example:
      repro export client-final --format api -o client-final.api.json
      repro export client-final --format a1111
    """
    from repro.api.export import export as run

    repo = state.repo()
    record = target_record(state, repo, target)
    result = run(repo, record, format=format_, output=state.here(output))
    if as_json:
        emit_json(result.to_dict())
    elif output is None:
        sys.stdout.buffer.write(result.data.rstrip(b"\n") + b"\n")
        sys.stdout.flush()
    else:
        click.echo(f"wrote {output}", err=True)
