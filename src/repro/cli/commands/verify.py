"""``repro verify``."""

from __future__ import annotations

import click

from repro.cli.options import State, json_option, target_record
from repro.cli.render import emit_json, render_receipts, short, where_note


@click.command()
@click.argument("target", required=False)
@click.option("--comfyui", metavar="URL",
              help="Compare the environment with this running ComfyUI's (/system_stats).")
@click.option("--free", is_flag=True,
              help="First ask the ComfyUI server (--comfyui or [comfyui] url) to unload its "
                   "models (POST /free), so that a re-run loads every model file from disk.")
@json_option
@click.pass_obj
def verify(state: State, target: str | None, comfyui: str | None, free: bool,
           as_json: bool) -> None:
    """Can TARGET be reproduced now, and if not, exactly why (without TARGET: every record).

    Exit status 0 when ready (every model at its recorded version), 1 otherwise.
    The recorded environment is compared with the current one where it can be
    known (the config's tool folders, or --comfyui URL). Where the ComfyUI server
    is known, its loader cache is named: it may hold another version of a model
    than the disk (after a checkout); --free empties it. Each model says where its
    recorded version is: here, on a remote (as of the last push, pull or clone; no
    remote is contacted; `repro checkout` fetches it), or nowhere.

    \b
    Example:
      repro verify outputs/ComfyUI_00042_.png --comfyui http://127.0.0.1:8188
    """
    from repro.api.verify import verify_records

    repo = state.repo()
    records = [target_record(state, repo, target)] if target else None
    results = verify_records(repo, records, comfyui=comfyui, free=free)
    if as_json:
        emit_json(results[0][1].to_dict() if target else [r.to_dict() for _, r in results])
    else:
        for rec, r in results:
            ready = "ready" if r.ready else "NOT ready"
            click.echo(f"{short(r.id)} {rec.output.path}: {r.level}, {ready}")
            for m in r.models:
                click.echo(f"  {m.status:<13} {m.role} {m.name or ''} -> {m.path or '?'}"
                           + where_note(m.location, m.in_store, list(m.remotes)))
            for reason in r.reasons:
                click.echo(f"  - {reason}")
            if r.output == "missing":
                click.echo(f"  note: the output file is gone from {rec.output.path}; "
                           f"`repro checkout {short(r.id)} --output` brings it back")
            render_receipts(r.receipts)
    if not all(r.ready for _, r in results):
        raise click.exceptions.Exit(1)
