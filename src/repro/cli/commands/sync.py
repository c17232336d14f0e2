"""``repro push``, ``repro pull`` and ``repro clone``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from repro.cli.options import State, json_option
from repro.cli.render import emit_json

if TYPE_CHECKING:
    from repro.api.push import Synced


def _say(done: Synced, verb: str, as_json: bool) -> None:
    if as_json:
        emit_json(done.to_dict())
        return
    t = done.transfer
    click.echo(f"{verb} {len(t.records)} records, {t.objects} objects ({t.bytes:,} bytes; "
               f"{t.packs} packs, {t.large} large) {'to' if verb == 'pushed' else 'from'} "
               f"{done.remote}")
    for tag in done.tags:
        click.echo(f"tag {tag['name']} -> {tag['id'][:12]}")
    if t.unavailable:
        click.echo(f"{len(t.unavailable)} objects named by records are in neither store "
                   "(dropped model versions)")


@click.command()
@click.argument("name", required=False)
@click.argument("targets", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Every record (the default without TARGET).")
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
    _say(done, "pushed", as_json)


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
    _say(done, "pulled", as_json)


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
    _say(done, "pulled", as_json)
