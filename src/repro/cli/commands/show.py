"""``repro show``."""

from __future__ import annotations

import click

from repro.cli.options import State, json_option, target_record
from repro.cli.render import emit_json


@click.command()
@click.argument("target")
@click.option("--full", is_flag=True,
              help="Everything: whole prompts, every parameter, full hashes, the "
                   "environment and the raw metadata blobs.")
@json_option
@click.pass_obj
def show(state: State, target: str, full: bool, as_json: bool) -> None:
    """Show one record: output, tool, parameters, models, inputs, parents, level,
    and the receipts of its reruns. Long prompts are cut to three terminal lines
    unless --full; on a terminal the text goes through a pager.

    \b
    Example:
      repro show outputs/ComfyUI_00042_.png --full
    """
    from repro.cli.records import page, receipt_lines, show_lines

    repo = state.repo()
    record = target_record(state, repo, target)
    receipts = [r.show() for r in repo.receipts.of(record.id)]
    if as_json:
        emit_json({**record.show(), "receipts": receipts})
        return
    page([*show_lines(record, full=full), *receipt_lines(receipts, indent="  ")])
