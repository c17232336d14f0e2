"""``repro tag``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from repro.cli.options import State, json_option, lock_timeout_option
from repro.cli.render import emit_json, short
from repro.errors import UsageError

if TYPE_CHECKING:
    from repro.api.tags import Tag


@click.command()
@click.argument("name", required=False)
@click.argument("target", required=False)
@click.option("-d", "--delete", is_flag=True, help="Delete the tag NAME.")
@click.option("-f", "--force", is_flag=True, help="Move NAME even if it names another record.")
@lock_timeout_option
@json_option
@click.pass_obj
def tag(state: State, name: str | None, target: str | None, delete: bool, force: bool,
        as_json: bool) -> None:
    """List tags; name a record (NAME TARGET); move a tag (-f) or delete one (-d).

    \b
    Example:
      repro tag client-final outputs/ComfyUI_00042_.png
      repro tag -f client-final outputs/ComfyUI_00057_.png
      repro tag -d client-final
    """
    from repro.api import tags

    repo = state.repo()
    if delete:
        if name is None or target is not None:
            raise UsageError("-d takes one tag name", hint="repro tag -d NAME")
        done = tags.delete_tag(repo, name)
        _print(as_json, [done], f"deleted tag {done.name} (was {short(done.id)})")
    elif name is not None:
        if target is None:
            raise UsageError("give the record to name", hint="repro tag NAME TARGET")
        done = tags.set_tag(repo, name, target, force=force, cwd=state.cwd)
        moved = f" (moved from {short(done.was)})" if done.was else ""
        _print(as_json, [done], f"{done.name} -> {short(done.id)}{moved}")
    else:
        found = tags.list_tags(repo)
        _print(as_json, found, "\n".join(f"{t.name}\t{short(t.id)}" for t in found))


def _print(as_json: bool, found: list[Tag], text: str) -> None:
    if as_json:
        emit_json([t.to_dict() for t in found])
    elif text:
        click.echo(text)
