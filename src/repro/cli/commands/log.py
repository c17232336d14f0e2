"""``repro log``."""

from __future__ import annotations

import click

from repro.cli.options import State, json_option, target_record
from repro.cli.render import emit_json_list, render_receipts, render_record


@click.command()
@click.argument("target", required=False)
@click.option("-n", "limit", type=click.IntRange(min=1), help="Show at most N records.")
@click.option("--graph", is_flag=True, help="Draw the ancestry as a text graph.")
@click.option("--descendants", is_flag=True, help="Walk to descendants instead of ancestors.")
@json_option
@click.pass_obj
def log(state: State, target: str | None, limit: int | None, graph: bool,
        descendants: bool, as_json: bool) -> None:
    """A record and its ancestors; without TARGET, every record, newest first.

    \b
    Example:
      repro log outputs/upscaled.png --graph
    """
    from repro.api.query import iter_log

    repo = state.repo()
    record = target_record(state, repo, target) if target else None
    records = iter_log(repo, record, limit=limit, descendants=descendants)
    if as_json:
        emit_json_list({**r.show(), "receipts": [x.show() for x in repo.receipts.of(r.id)]}
                       for r in records)
        return
    if graph:
        from repro.api.query import parent_map
        from repro.lineage.textgraph import render_text_graph

        listed = list(records)
        for line in render_text_graph(listed, parent_map(repo, listed)):
            click.echo(line)
        return
    for r in records:
        render_record(r, full=False)
        render_receipts([x.show() for x in repo.receipts.of(r.id)])
        click.echo()
