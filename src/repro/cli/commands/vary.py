"""``repro vary``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from repro.cli.options import State, json_option, lock_timeout_option, target_record
from repro.cli.render import Status, emit_json, short


@click.command()
@click.argument("target")
@click.option("--seed", metavar="A..B", help="Each seed from A to B (inclusive).")
@click.option("--seeds", type=int, metavar="N", help="N random seeds (each one recorded).")
@click.option("--set", "set_", multiple=True, metavar="KEY=V1,V2,...",
              help="Values for one input: NODE.INPUT, or seed, steps, cfg, sampler, "
                   "scheduler, denoise, lora:NAME (strength), model:NAME (another file).")
@click.option("--grid", is_flag=True, help="Every combination of several parameters.")
@click.option("--comfyui", metavar="URL",
              help="The ComfyUI server to run on (default: config comfyui.url).")
@click.option("--checkout", is_flag=True,
              help="Restore the recorded models and inputs first when they are not in place.")
@click.option("--force", is_flag=True, help="With --checkout: replace files with other content.")
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path),
              help="The server's output folder (default: config comfyui.root/output).")
@click.option("--sheet", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a contact sheet (.html page, or .png image).")
@lock_timeout_option
@json_option
@click.pass_obj
def vary(state: State, target: str, seed: str | None, seeds: int | None,
         set_: tuple[str, ...], grid: bool, comfyui: str | None, checkout: bool, force: bool,
         output_dir: Path | None, sheet: Path | None, as_json: bool) -> None:
    """Make variations of TARGET on ComfyUI, one parameter at a time.

    Each run is TARGET's executed prompt with one value changed; its outputs
    are captured linked to TARGET (relation variation-of, with the value).
    `repro variations TARGET` groups them. Ctrl-C keeps the runs that
    finished. Exit status 0 when every run was captured, 1 when some failed.

    \b
    Example:
      repro vary client-final --seed 100..109 --sheet sheet.html
      repro vary client-final --set cfg=5,7,9
      repro vary client-final --set lora:client_style.safetensors=0.4,0.8
    """
    from repro.api.vary import vary as run

    repo = state.repo()
    record = target_record(state, repo, target)
    status = Status()
    try:
        result = run(repo, record, seed=seed, seeds=seeds, set=set_, grid=grid,
                     comfyui=comfyui, checkout=checkout, force=force,
                     output_dir=state.here(output_dir), sheet=state.here(sheet),
                     progress=status)
    finally:
        status.done()
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(f"variations of {short(record.id)} {record.output.path} "
                   f"({result.parameter}):")
        for r in result.runs:
            if r["outcome"] == "captured":
                click.echo(f"  {_value(r['value']):<24} {short(r['record'])} {r['path']}")
            else:
                click.echo(f"  {_value(r['value']):<24} failed: {r.get('reason')}")
        if result.sheet:
            click.echo(f"contact sheet: {result.sheet}")
    if result.failed:
        raise click.exceptions.Exit(1)


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)
