"""``repro show``."""

from __future__ import annotations

import click

from repro.cli.options import State, json_option, target_record
from repro.cli.render import emit_json, render_receipts, render_record


@click.command()
@click.argument("target")
@json_option
@click.pass_obj
def show(state: State, target: str, as_json: bool) -> None:
    """Show one record: output, tool, parameters, models, inputs, parents, level,
    and the receipts of its reruns.

    \b
    Example:
      repro show outputs/ComfyUI_00042_.png
    """
    repo = state.repo()
    record = target_record(state, repo, target)
    receipts = [r.show() for r in repo.receipts.of(record.id)]
    if as_json:
        emit_json({**record.show(), "receipts": receipts})
        return
    render_record(record, full=True)
    render_receipts(receipts)
