"""``repro add``."""

from __future__ import annotations

from pathlib import Path

import click

from repro.cli.options import State, json_option, lock_timeout_option, store_mode_option
from repro.cli.render import Progress, display_path, emit_json, short


@click.command()
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(readable=False, path_type=Path))
@click.option("--parent", "parents", multiple=True, metavar="TARGET",
              help="A record this output derives from (repeatable).")
@click.option("-m", "--message", help="A note stored with the record.")
@click.option("--tag", help="Name the (last) captured record.")
@store_mode_option
@click.option("--allow-empty", is_flag=True,
              help="Also capture images that carry no generation metadata (level none).")
@click.option("--no-env", is_flag=True, help="Do not record this machine's environment.")
@click.option("--refresh", is_flag=True,
              help="Capture outputs captured before anew; the new record supersedes the old "
                   "one, which stays in the store.")
@lock_timeout_option
@json_option
@click.pass_obj
def add(state: State, paths: tuple[Path, ...], parents: tuple[str, ...], message: str | None,
        tag: str | None, mode: str | None, allow_empty: bool, no_env: bool, refresh: bool,
        as_json: bool) -> None:
    """Capture output images (folders recurse): metadata, models by content, lineage.

    \b
    Example:
      repro add outputs/ComfyUI_00042_.png --tag client-final
      repro add outputs/ --json
      repro add outputs/old.png --refresh   (after putting its model in place)
    """
    from repro.api.add import add as add_files
    from repro.api.environment_now import capture_environment
    from repro.errors import InputError

    repo = state.repo()
    full = [state.cwd / p for p in paths]
    progress = Progress()
    result = add_files(repo, full, parents=parents, message=message, tag=tag, mode=mode,
                       allow_empty=allow_empty,
                       environment=capture_environment(repo.config, no_env=no_env),
                       progress=progress, refresh=refresh)
    progress.done()
    if as_json:
        emit_json(result.to_dict())
    else:
        for r in result.records:
            was = (f", supersedes {short(r.superseded.id)} ({r.superseded.level})"
                   if r.superseded else "")
            click.echo(f"{r.state} {short(r.id)} {display_path(r.path, state.cwd)} "
                       f"({r.record.tool.name}, {r.record.level}{was})")
            if not r.existing:
                for reason in r.record.assessment.texts:
                    click.echo(f"    - {reason}")
        if result.skipped:
            for s in result.skipped[:20]:
                click.echo(f"skipped {s['path']}: {s['reason']}", err=True)
            if len(result.skipped) > 20:
                click.echo(f"skipped {len(result.skipped) - 20} more", err=True)
    if not result.records:
        raise InputError(f"nothing captured ({len(result.skipped)} file(s) skipped)",
                         hint="repro add takes PNG, JPEG or WebP outputs that carry "
                              "generation metadata")
