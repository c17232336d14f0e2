"""``repro gc``."""

from __future__ import annotations

import click

from repro.cli.options import State, json_option, lock_timeout_option
from repro.cli.render import emit_json, note


@click.command()
@click.option("--dry-run", is_flag=True, help="List what would be removed.")
@click.option("--grace-days", type=float, help="Keep unreachable objects younger than this.")
@lock_timeout_option
@json_option
@click.pass_obj
def gc(state: State, dry_run: bool, grace_days: float | None, as_json: bool) -> None:
    """Remove objects no record, tag or kept file names, past a grace period.

    \b
    Example:
      repro gc --dry-run
    """
    from repro.api.gc import gc as collect

    repo = state.repo()
    result = collect(repo, dry_run=dry_run, grace_days=grace_days)
    if result.note:
        note(result.note)
    if as_json:
        emit_json(result.to_dict())
        return
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{verb} {result.removed} object(s), {result.bytes} bytes")
