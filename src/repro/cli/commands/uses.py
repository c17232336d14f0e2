"""``repro uses``."""

from __future__ import annotations

import click

from repro.cli.options import State, json_option
from repro.cli.render import emit_json, short


@click.command()
@click.argument("model")
@click.option("--any-version", is_flag=True,
              help="Every version ever seen under the model's names.")
@json_option
@click.pass_obj
def uses(state: State, model: str, any_version: bool, as_json: bool) -> None:
    """Outputs made with MODEL (a file, a recorded name, or a hash prefix).

    \b
    Example:
      repro uses models/loras/client_style.safetensors --any-version
    """
    from repro.api.query import uses as records_using
    from repro.api.query import uses_by_version

    repo = state.repo()
    if any_version:
        groups = uses_by_version(repo, model, cwd=state.cwd)
        if as_json:
            emit_json([{**g, "records": [r.show() for r in g["records"]]} for g in groups])
            return
        for g in groups:
            click.secho(f"version {short(g['blake3'])} ({', '.join(g['names'])}): "
                        f"{len(g['records'])} output(s)", bold=True)
            for r in g["records"]:
                click.echo(f"  {short(r.id)} {r.output.path} ({r.tool.name}, {r.level})")
        return
    records = records_using(repo, model, cwd=state.cwd)
    if as_json:
        emit_json([r.show() for r in records])
        return
    for r in records:
        click.echo(f"{short(r.id)} {r.output.path} ({r.tool.name}, {r.level})")
