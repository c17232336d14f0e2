"""``repro push``."""

from __future__ import annotations

import click

from repro.cli.options import State, json_option
from repro.cli.render import synced


@click.command()
@click.argument("name", required=False)
@click.argument("targets", nargs=-1)
@click.option("--all", "all_", is_flag=True,
              help="Every record, not only those indexed since the last push (and the "
                   "thumbnails the remote lacks).")
@click.option("--no-models", is_flag=True, help="Leave the model versions behind.")
@click.option("--force-tags", is_flag=True, help="Move remote tags even if someone else did.")
@json_option
@click.pass_obj
def push(state: State, name: str | None, targets: tuple[str, ...], all_: bool, no_models: bool,
         force_tags: bool, as_json: bool) -> None:
    """Send records, what they name and their tags to the remote NAME.

    \b
    Example:
      repro push origin outputs/ComfyUI_00042_.png
      repro push nas --all --no-models
    """
    from repro.api.push import push as push_records

    done = push_records(state.repo(), name, list(targets), all=all_, models=not no_models,
                        force_tags=force_tags, cwd=state.cwd)
    synced(done, "pushed", as_json)
