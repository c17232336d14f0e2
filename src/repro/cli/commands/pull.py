"""``repro pull``."""

from __future__ import annotations

import click

from repro.cli.options import State, json_option
from repro.cli.render import synced


@click.command()
@click.argument("name", required=False)
@click.argument("targets", nargs=-1)
@click.option("--no-models", is_flag=True, help="Leave the model versions on the remote.")
@json_option
@click.pass_obj
def pull(state: State, name: str | None, targets: tuple[str, ...], no_models: bool,
         as_json: bool) -> None:
    """Fetch records (ids, prefixes, remote tags; default all) and what they name.

    \b
    Example:
      repro pull origin client-final
    """
    from repro.api.push import pull as pull_records

    done = pull_records(state.repo(), name, list(targets), models=not no_models)
    synced(done, "pulled", as_json)
