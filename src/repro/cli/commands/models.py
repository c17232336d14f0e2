"""``repro models`` and ``repro models scan``."""

from __future__ import annotations

import click

from repro.cli.options import State, json_option
from repro.cli.render import Progress, emit_json, human_bytes, short


@click.group(invoke_without_command=True)
@click.option("--hashes", is_flag=True,
              help="Also show every ecosystem hash (AutoV1/V2/V3, SHA-256, CRC32...).")
@json_option
@click.pass_context
def models(ctx: click.Context, hashes: bool, as_json: bool) -> None:
    """Every model version the records use: names, size, use counts, whether it is in
    the store and where it is on disk now (checkpoints first, by name, most used first).

    \b
    Example:
      repro models --hashes
      repro models scan
    """
    if ctx.invoked_subcommand is not None:
        return
    from repro.api.models import list_models

    state: State = ctx.obj
    repo = state.repo()
    entries = list_models(repo, hashes=hashes)
    if as_json:
        emit_json([e.to_dict() for e in entries])
        return
    for e in entries:
        store = "in store" if e.in_store else "not in store"
        arch = f" [{e.architecture}]" if e.architecture else ""
        size = human_bytes(e.size) if e.size is not None else "size unknown"
        click.echo(f"{', '.join(e.roles)}: {', '.join(e.names)}{arch}  {short(e.blake3)}  "
                   f"{size}, {e.uses} output(s), {store}")
        for p in e.on_disk:
            click.echo(f"    on disk now: {p}")
        if not e.on_disk:
            gone = ", ".join(e.paths) or "no path recorded"
            click.echo(f"    not on disk now (was {gone})")
        for scheme, value in (e.hashes or {}).items():
            click.echo(f"    {scheme:<14} {value}")


@models.command()
@json_option
@click.pass_obj
def scan(state: State, as_json: bool) -> None:
    """Hash every model file under the model roots once (resumable), so that any
    hash an image recorded finds its file instantly.

    \b
    Example:
      repro models scan
    """
    from repro.api.models import scan as scan_models

    repo = state.repo()
    progress = Progress()
    result = scan_models(repo, progress=progress)
    progress.done()
    if as_json:
        emit_json(result.to_dict())
        return
    click.echo(f"{result.files} model file(s) under the roots: {result.hashed} hashed "
               f"({result.bytes_hashed} bytes), {result.known} already known")
    for e in result.errors:
        click.echo(f"  could not read {e['path']}: {e['error']}", err=True)
