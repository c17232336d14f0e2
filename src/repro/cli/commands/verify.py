"""``repro verify``."""

from __future__ import annotations

import click

from repro.cli.options import State, json_option, target_record
from repro.cli.render import emit_json, short


@click.command()
@click.argument("target", required=False)
@click.option("--comfyui", "comfyui_url", metavar="URL",
              help="Compare the environment with this running ComfyUI's (/system_stats).")
@json_option
@click.pass_obj
def verify(state: State, target: str | None, comfyui_url: str | None, as_json: bool) -> None:
    """Can TARGET be reproduced now, and if not, exactly why (without TARGET: every record).

    Exit status 0 when ready (every model at its recorded version), 1 otherwise.
    The recorded environment is compared with the current one where it can be
    known (the config's tool folders, or --comfyui URL).

    \b
    Example:
      repro verify outputs/ComfyUI_00042_.png --comfyui http://127.0.0.1:8188
    """
    from repro.api.environment_now import environment_now
    from repro.api.verify import verify as verify_record

    repo = state.repo()
    current = environment_now(repo, comfyui_url=comfyui_url)
    if target:
        records = [target_record(state, repo, target)]
    else:
        from repro.api.query import log as log_records

        records = log_records(repo, None)
    from repro.models.resolve import Resolver

    resolver = Resolver(repo.config.model_roots, repo.stat_cache)
    results = [verify_record(repo, r, current, resolver=resolver) for r in records]
    if as_json:
        emit_json(results[0].to_dict() if target else [r.to_dict() for r in results])
    else:
        for r, rec in zip(results, records, strict=True):
            ready = "ready" if r.ready else "NOT ready"
            click.echo(f"{short(r.id)} {rec.output.get('path')}: {r.level}, {ready}")
            for m in r.models:
                click.echo(f"  {m.status:<13} {m.role} {m.name or ''} -> {m.path or '?'}"
                           + ("" if m.in_store else "  (not in store)"))
            for reason in r.reasons:
                click.echo(f"  - {reason}")
    if not all(r.ready for r in results):
        raise click.exceptions.Exit(1)
