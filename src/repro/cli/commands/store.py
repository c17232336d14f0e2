"""``repro store`` and ``repro store drop``."""

from __future__ import annotations

import click

from repro.cli.options import State, json_option, lock_timeout_option
from repro.cli.render import Progress, emit_json, human_bytes, short


@click.group(invoke_without_command=True)
@json_option
@click.pass_context
def store(ctx: click.Context, as_json: bool) -> None:
    """What the store holds, by model and version: size, uses, whether the bytes
    are in the store, linked to the model file (hardlink mode) or dropped.

    \b
    Example:
      repro store
      repro store drop dreamshaper_8.safetensors --old-only --dry-run
    """
    if ctx.invoked_subcommand is not None:
        return
    from repro.api.store import view

    state: State = ctx.obj
    result = view(state.repo())
    if as_json:
        emit_json(result.to_dict())
        return
    for name, versions in result.models.items():
        click.echo(name)
        for v in versions:
            where = ("dropped" if v.dropped else "linked to the model file" if v.linked
                     else "in store" if v.in_store else "not in store")
            click.echo(f"    {short(v.blake3)}  {human_bytes(v.size) if v.size else '-':>10}  "
                       f"{v.uses} output(s)  {where}")
    click.echo(f"{result.objects} object(s), {human_bytes(result.bytes)}: model versions "
               f"{human_bytes(result.model_bytes)}"
               + (f" ({human_bytes(result.linked_bytes)} shared with model files)"
                  if result.linked_bytes else "")
               + f", outputs and records {human_bytes(result.bytes - result.model_bytes)}")


@store.command()
@click.argument("models", nargs=-1, required=True, metavar="MODEL...")
@click.option("--old-only", is_flag=True,
              help="Keep the versions whose bytes are at a recorded path now.")
@click.option("--dry-run", is_flag=True, help="Only say what would be dropped.")
@lock_timeout_option
@json_option
@click.pass_obj
def drop(state: State, models: tuple[str, ...], old_only: bool, dry_run: bool,
         as_json: bool) -> None:
    """Remove chosen model versions' bytes from the store, on purpose: MODEL is a hash
    (that version), a recorded name (every version seen under it) or a file (the
    version it holds). Records that used them then say `not in store`, and
    `checkout` cannot restore them; `repro add` of those bytes stores them again.

    \b
    Example:
      repro store drop dreamshaper_8.safetensors --old-only
    """
    from repro.api.store import drop as drop_versions

    progress = Progress()
    result = drop_versions(state.repo(), models, old_only=old_only, dry_run=dry_run,
                           cwd=state.cwd, progress=progress)
    progress.done()
    if as_json:
        emit_json(result.to_dict())
        return
    verb = "would drop" if dry_run else "dropped"
    for d in result.dropped:
        click.echo(f"{verb} {short(d['blake3'])} {', '.join(d['names'][:2])} "
                   f"({human_bytes(d['size'])})")
    for k in result.kept:
        click.echo(f"kept {short(k['blake3'])} {', '.join(k['names'][:2])}: {k['reason']}")
    click.echo(f"{verb} {len(result.dropped)} version(s), {human_bytes(result.bytes)}")
