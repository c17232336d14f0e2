"""``repro add``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from repro.cli.options import State, json_option, lock_timeout_option, store_mode_option
from repro.cli.render import Progress, display_path, emit_json, human_bytes, short

if TYPE_CHECKING:
    from repro.api.add.plan import AddPlan


@click.command()
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(readable=False, path_type=Path))
@click.option("--parent", "parents", multiple=True, metavar="TARGET",
              help="A record this output derives from (repeatable).")
@click.option("-m", "--message", help="A note stored with the record.")
@click.option("--tag", help="Name the (last) captured record.")
@store_mode_option
@click.option("--allow-empty", is_flag=True,
              help="Also capture images that carry no generation metadata (level none).")
@click.option("--no-env", is_flag=True, help="Do not record this machine's environment.")
@click.option("--refresh", is_flag=True,
              help="Capture outputs captured before anew; the new record supersedes the old "
                   "one, which stays in the store.")
@click.option("--dry-run", is_flag=True,
              help="Only say what would be captured and stored, and how much.")
@lock_timeout_option
@json_option
@click.pass_obj
def add(state: State, paths: tuple[Path, ...], parents: tuple[str, ...], message: str | None,
        tag: str | None, mode: str | None, allow_empty: bool, no_env: bool, refresh: bool,
        dry_run: bool,
        as_json: bool) -> None:
    """Capture output images (folders recurse): metadata, models by content, lineage.
    Says what it stored and how much (model files are copied into .repro in
    store mode copy; see docs/concepts.md for what each mode costs).

    \b
    Example:
      repro add outputs/ComfyUI_00042_.png --tag client-final
      repro add outputs/ --dry-run
      repro add outputs/old.png --refresh   (after putting its model in place)
    """
    from repro.api.add import add as add_files
    from repro.api.environment_now import capture_environment
    from repro.errors import InputError

    repo = state.repo()
    full = [state.cwd / p for p in paths]
    if dry_run:
        from repro.api.add.plan import plan

        _show_plan(plan(repo, full, mode=mode, allow_empty=allow_empty), state, as_json)
        return
    progress = Progress()
    result = add_files(repo, full, parents=parents, message=message, tag=tag, mode=mode,
                       allow_empty=allow_empty,
                       environment=capture_environment(repo.config, no_env=no_env),
                       progress=progress, refresh=refresh)
    progress.done()
    if as_json:
        emit_json(result.to_dict())
    else:
        for r in result.records:
            was = (f", supersedes {short(r.superseded.id)} ({r.superseded.level})"
                   if r.superseded else "")
            click.echo(f"{r.state} {short(r.id)} {display_path(r.path, state.cwd)} "
                       f"({r.record.tool.name}, {r.record.level}{was})")
            if not r.existing:
                for reason in r.record.assessment.texts:
                    click.echo(f"    - {reason}")
        _show_stored(result.stored)
        if result.skipped:
            for s in result.skipped[:20]:
                click.echo(f"skipped {s['path']}: {s['reason']}", err=True)
            if len(result.skipped) > 20:
                click.echo(f"skipped {len(result.skipped) - 20} more", err=True)
    if not result.records:
        raise InputError(f"nothing captured ({len(result.skipped)} file(s) skipped)",
                         hint="repro add takes PNG, JPEG or WebP outputs that carry "
                              "generation metadata")


def _show_stored(stored: dict[str, Any]) -> None:
    for m in stored["models"]:
        how = {"hardlink": "linked (no second copy)", "reflink": "cloned (copy-on-write)"
               }.get(m["mode"], "copied")
        click.echo(f"stored {m['name']} ({human_bytes(m['size'])}, {how}, "
                   f"blake3 {short(m['blake3'])})")
    if stored["outputs"] or stored["models"]:
        click.echo(f"store: +{human_bytes(stored['model_bytes'] + stored['output_bytes'])} "
                   f"({len(stored['models'])} model version(s), "
                   f"{stored['outputs']} output(s)); `repro store` shows it all")


def _show_plan(plan: AddPlan, state: State, as_json: bool) -> None:
    if as_json:
        emit_json(plan.to_dict())
        return
    for c in plan.capture:
        click.echo(f"would capture {display_path(c['path'], state.cwd)} ({c['tool']})")
    for path in plan.known:
        click.echo(f"known {display_path(path, state.cwd)}")
    for s in plan.skipped:
        click.echo(f"would skip {s['path']}: {s['reason']}", err=True)
    for m in plan.models:
        click.echo(f"would store {m['path']} ({human_bytes(m['size'])}, {plan.mode})")
    click.echo(f"store mode {plan.mode}: +{human_bytes(plan.model_bytes + plan.output_bytes)}"
               f" ({len(plan.models)} model version(s), {len(plan.capture)} output(s))")
