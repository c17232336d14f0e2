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
    from repro.api import maintenance

    repo = state.repo()
    if rebuild_index:
        with repo.lock():
            n = repo.rebuild_index()
        if as_json:
            emit_json({"problems": [], "rebuilt": n})
        else:
            click.echo(f"rebuilt the index from {n} records")
        return
    progress = Progress()
    problems = list(maintenance.fsck(repo, progress=progress))
    progress.done()
    actions = maintenance.repair(repo, problems) if repair else []
    if as_json:
        emit_json({"problems": [p.to_dict() for p in problems], "repaired": actions})
    else:
        for p in problems:
            click.echo(f"{p.kind}: {p.message}")
        for a in actions:
            click.echo(f"repaired: {a}")
        if not problems:
            click.echo("no problems found")
    serious = [p for p in problems if p.kind != "tmp"]
    if serious and not repair:
        raise click.exceptions.Exit(1)
