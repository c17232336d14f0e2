"""``repro fsck``."""

from __future__ import annotations

import click

from repro.cli.options import State, json_option, lock_timeout_option
from repro.cli.render import Progress, emit_json


@click.command()
@click.option("--repair", is_flag=True,
              help="Rebuild the index, move corrupt objects aside (never deletes).")
@click.option("--rebuild-index", is_flag=True, help="Only rebuild the derived index.")
@lock_timeout_option
@json_option
@click.pass_obj
def fsck(state: State, repair: bool, rebuild_index: bool, as_json: bool) -> None:
    """Re-hash every object; check every record and the index.

    Exit status 0 when no problem is found (leftover temp files aside).

    \b
    Example:
      repro fsck
    """
    from repro.api.maintenance import check_repository

    progress = Progress()
    result = check_repository(state.repo(), repair=repair, rebuild_index=rebuild_index,
                              progress=progress)
    progress.done()
    if as_json:
        emit_json(result.to_dict())
    elif result.rebuilt is not None:
        click.echo(f"rebuilt the index from {result.rebuilt} records")
    else:
        for p in result.problems:
            click.echo(f"{p.kind}: {p.message}")
        for a in result.repaired:
            click.echo(f"repaired: {a}")
        if not result.problems:
            click.echo("no problems found")
    if not result.ok:
        raise click.exceptions.Exit(1)
