"""``repro rerun``."""

from __future__ import annotations

from pathlib import Path

import click

from repro.cli.options import State, json_option, lock_timeout_option, target_record
from repro.cli.render import Status, emit_json, short


@click.command()
@click.argument("target")
@click.option("--comfyui", metavar="URL",
              help="The ComfyUI server to run on (default: config comfyui.url).")
@click.option("--checkout", is_flag=True,
              help="Restore the recorded models and inputs first when they are not in place.")
@click.option("--force", is_flag=True,
              help="With --checkout: replace files with other content (stored first).")
@click.option("--no-free", is_flag=True,
              help="Do not POST /free first (a model cached under the same name may be used).")
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path),
              help="The server's output folder (default: config comfyui.root/output; "
                   "else outputs are fetched into reruns/).")
@lock_timeout_option
@json_option
@click.pass_obj
def rerun(state: State, target: str, comfyui: str | None, checkout: bool, force: bool,
          no_free: bool, output_dir: Path | None, as_json: bool) -> None:
    """Run TARGET's executed prompt again on ComfyUI and compare the pixels.

    Checks first, as verify does (with --checkout, restores the recorded
    models and inputs), frees the server's model cache (POST /free), submits
    the recorded prompt with its workflow, captures the new outputs (relation
    rerun-of) and compares decoded pixels. The outcome is kept as a receipt
    that show, log and verify print. Exit status 0 when exact, 1 when
    different; 8 server unreachable, 9 job refused or failed, 10 not ready,
    11 a remote returned wrong bytes for a model version --checkout fetched.

    \b
    Example:
      repro rerun client-final --comfyui http://127.0.0.1:8188
      repro rerun outputs/ComfyUI_00042_.png --checkout --force --json
    """
    from repro.api.rerun import rerun as run

    repo = state.repo()
    record = target_record(state, repo, target)
    status = Status()
    try:
        result = run(repo, record, comfyui=comfyui, checkout=checkout, force=force,
                     free=not no_free, output_dir=state.here(output_dir), progress=status)
    finally:
        status.done()
    if as_json:
        emit_json(result.to_dict())
    else:
        for item in result.restored:
            click.echo(f"restored  {item.get('path')}")
        figures = "pixels identical" if result.outcome == "exact" else \
            f"max abs diff {result.max_abs_diff}, PSNR {result.psnr} dB"
        click.echo(f"rerun of {short(record.id)} {record.output.path}: {result.outcome} "
                   f"({figures})")
        for r in result.records:
            note = " (same bytes as the target)" if r["existing"] else ""
            click.echo(f"  record    {short(r['id'])} {r['path']}{note}")
        if result.diff_image:
            click.echo(f"  diff      object {short(result.diff_image)} (difference image)")
        for line in result.explain:
            click.echo(f"  - {line}")
        if result.receipt is not None:
            click.echo(f"  receipt   {short(result.receipt.id)}: {result.receipt.summary()}")
        if result.freed is not None:
            click.echo(f"  POST /free took {result.freed:.3f} s")
    if result.outcome != "exact":
        raise click.exceptions.Exit(1)
