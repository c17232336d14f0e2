"""``repro clone``."""

from __future__ import annotations

from pathlib import Path

import click

from repro.cli.options import State, json_option
from repro.cli.render import synced


@click.command()
@click.argument("url")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--endpoint", help="S3 endpoint URL.")
@click.option("--region", help="S3 region.")
@click.option("--no-models", is_flag=True, help="Leave the model versions on the remote.")
@json_option
@click.pass_obj
def clone(state: State, url: str, directory: Path, endpoint: str | None, region: str | None,
          no_models: bool, as_json: bool) -> None:
    """Make a new repository in DIRECTORY from the remote at URL (named origin).

    \b
    Example:
      repro clone s3://renders/team-a ~/art/team-a --endpoint http://nas:8333
    """
    from repro.api.push import clone as clone_remote

    done = clone_remote(url, state.cwd / directory, endpoint=endpoint, region=region,
                        models=not no_models)
    synced(done, "pulled", as_json)
