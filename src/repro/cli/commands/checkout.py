"""``repro checkout``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from repro.cli.options import State, json_option, lock_timeout_option, target_record
from repro.cli.render import emit_json, short
from repro.config import STORE_MODES

if TYPE_CHECKING:
    from repro.api.checkout import CheckoutResult


@click.command()
@click.argument("target")
@click.option("--to", "to", type=click.Path(file_okay=False, path_type=Path),
              help="Restore under DIR instead of the model roots.")
@click.option("--force", is_flag=True,
              help="Overwrite files with other content (they are stored first).")
@click.option("--dry-run", is_flag=True, help="Only say what would be written.")
@click.option("--inputs", is_flag=True, help="Restore the recorded input images too.")
@click.option("--output", is_flag=True,
              help="Restore the output file itself (deleted or changed) to its recorded path.")
@click.option("--mode", type=click.Choice([m for m in STORE_MODES if m != "reference"]),
              help="How files are restored (default: config store.mode).")
@click.option("--comfyui", metavar="URL",
              help="The ComfyUI server that will re-run it (default: [comfyui] url).")
@click.option("--free", is_flag=True,
              help="After restoring models, ask the ComfyUI server to unload its models "
                   "(POST /free), so that it loads the restored files.")
@lock_timeout_option
@json_option
@click.pass_obj
def checkout(state: State, target: str, to: Path | None, force: bool, dry_run: bool,
             inputs: bool, output: bool, mode: str | None, comfyui: str | None, free: bool,
             as_json: bool) -> None:
    """Put the exact recorded model versions back where the tool looks for them.

    Never overwrites a file with other content unless --force, and then the
    displaced file is stored first, so nothing is lost. A version the store
    lacks is fetched from a remote that has it and checked against its hash.
    Exit status 1 when nothing could be restored (no recorded version is in
    the store or on a remote that answered); 11 when a remote returned wrong
    bytes (nothing is stored from it, nothing is written).

    \b
    Example:
      repro checkout outputs/ComfyUI_00042_.png --dry-run
      repro checkout outputs/ComfyUI_00042_.png --force --free
      repro checkout outputs/ComfyUI_00042_.png --output
    """
    from repro.api.checkout import checkout as checkout_record

    repo = state.repo()
    record = target_record(state, repo, target)
    result = checkout_record(repo, record, to=state.here(to), force=force,
                             dry_run=dry_run, inputs=inputs, output=output, mode=mode,
                             progress=repo.progress, comfyui=comfyui, free=free)
    if as_json:
        emit_json(result.to_dict())
    else:
        _render(result, dry_run)
    if result.nothing_restored:
        raise click.exceptions.Exit(1)


def _render(result: CheckoutResult, dry_run: bool) -> None:
    verb = "would restore" if dry_run else "restored"
    for blake3 in result.fetched:
        click.echo(f"fetched {short(blake3)} from a remote (its BLAKE3 checked)")
    for e in result.restored:
        source = f" from remote {e['from_remote']}" if e.get("from_remote") else ""
        click.echo(f"{verb} {e['path']} ({e['role']} {e['name']}, blake3 "
                   f"{short(e['blake3'])}){source}")
    for e in result.displaced:
        click.echo(f"stored the displaced {e['path']} as {short(e['blake3'])}")
    for e in result.unchanged:
        click.echo(f"unchanged {e['path']}")
    for e in result.conflicts:
        click.echo(f"conflict {e['path']}: other content (use --force)")
    for e in result.unavailable:
        click.echo(f"unavailable {e['role']} {e['name']}: {e['reason']}")
    if result.server is not None:
        click.echo(f"note: {result.server.note}")
    if result.nothing_restored:
        click.echo("nothing could be restored", err=True)
