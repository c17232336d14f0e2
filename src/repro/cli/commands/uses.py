"""``repro uses``."""

from __future__ import annotations

import click

from repro.cli.options import State, json_option
from repro.cli.render import echo_lines, emit_json, short


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
    from repro.api import query

    repo = state.repo()
    if any_version:
        if as_json:
            groups = query.uses_by_version(repo, model, cwd=state.cwd)
            emit_json([{**g, "records": [r.show() for r in g["records"]]} for g in groups])
            return
        for g in query.uses_by_version_listed(repo, model, cwd=state.cwd):
            click.secho(f"version {short(g['blake3'])} ({', '.join(g['names'])}): "
                        f"{len(g['records'])} output(s)", bold=True)
            echo_lines(f"  {_line(r)}" for r in g["records"])
        return
    if as_json:
        emit_json([r.show() for r in query.uses(repo, model, cwd=state.cwd)])
        return
    # The list is read from the index alone (no record file is opened).
    echo_lines(_line(r) for r in query.uses_listed(repo, model, cwd=state.cwd))


def _line(listed: dict[str, str]) -> str:
    return f"{short(listed['id'])} {listed['path']} ({listed['tool']}, {listed['level']})"
