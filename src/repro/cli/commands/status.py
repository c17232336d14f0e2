"""``repro status``."""

from __future__ import annotations

from typing import Any

import click

from repro.cli.options import State, json_option
from repro.cli.render import Progress, display_path, emit_json, short


@click.command()
@json_option
@click.pass_obj
def status(state: State, as_json: bool) -> None:
    """What needs attention: outputs not captured yet (under the output folders,
    see `repro config`), model files changed on disk since they were recorded,
    and records that are no longer ready to reproduce. Each changed model's
    recorded versions say where they are: here (in the store), on a remote (as
    of the last push, pull or clone; no remote is contacted), or nowhere. It
    answers from the index and the stat cache: a model file is hashed only
    when it changed, and only the records at risk are verified.

    \b
    Example:
      repro status
    """
    from repro.api.status import status as repository_status

    repo = state.repo()
    progress = Progress()
    result = repository_status(repo, progress=progress)
    progress.done()
    if as_json:
        emit_json(result.to_dict())
        return
    if result.clean:
        click.echo("nothing to do: every output is captured and every record is ready")
        return
    if result.uncaptured:
        click.echo(f"Outputs not captured yet ({len(result.uncaptured)}; `repro add` them):")
        for path in result.uncaptured:
            click.secho(f"    {display_path(str(repo.abspath(path)), state.cwd)}", fg="red")
    if result.models_changed:
        click.echo("Model files changed on disk since they were recorded:")
        for m in result.models_changed:
            now = "gone" if m["now"] == "missing" else f"now {short(m['now'])}"
            recorded = ", ".join(f"{short(v['blake3'])} ({_where(v)})" for v in m["versions"])
            click.secho(f"    {m['path']} ({m['role']}): recorded {recorded}, {now}; "
                        f"{m['records']} record(s)", fg="yellow")
    if result.not_ready:
        click.echo(f"Records not ready to reproduce ({len(result.not_ready)}; "
                   "`repro verify ID` says why, `repro checkout ID` restores):")
        for r in result.not_ready:
            click.echo(f"    {short(r['id'])} {r['path']}: {r['level']}")


def _where(version: dict[str, Any]) -> str:
    """Where a recorded version is, in two or three words."""
    if version["location"] == "remote":
        return f"on remote {', '.join(version['remotes'])} as of last sync"
    return "here" if version["location"] == "local" else "nowhere"
