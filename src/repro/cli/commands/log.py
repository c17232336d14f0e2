"""``repro log``."""

from __future__ import annotations

import click

from repro.cli.options import State, json_option, target_record
from repro.cli.render import emit_json_list

_LEVELS = ("full", "approximate", "partial", "none")


@click.command()
@click.argument("target", required=False)
@click.option("-n", "limit", type=click.IntRange(min=1), help="Show at most N records.")
@click.option("--graph", is_flag=True, help="Draw the ancestry as a text graph.")
@click.option("--descendants", is_flag=True, help="Walk to descendants instead of ancestors.")
@click.option("--grep", multiple=True, metavar="WORD",
              help="Only records whose prompt holds WORD (repeatable: every word).")
@click.option("--model", metavar="MODEL",
              help="Only records made with MODEL: a file (that version), a recorded name "
                   "(any version) or a hash (that version).")
@click.option("--tool", help="Only records made with this tool (comfyui, a1111...).")
@click.option("--level", type=click.Choice(_LEVELS), help="Only records at this level.")
@click.option("--tag", metavar="NAME", help="Only tagged records (a name or a glob: 'client-*').")
@click.option("--since", metavar="DATE",
              help="Captured at or after DATE (2026-03-01, yesterday, '3 days ago').")
@click.option("--until", metavar="DATE", help="Captured before DATE.")
@json_option
@click.pass_obj
def log(state: State, target: str | None, limit: int | None, graph: bool,
        descendants: bool, grep: tuple[str, ...], model: str | None, tool: str | None,
        level: str | None, tag: str | None, since: str | None, until: str | None,
        as_json: bool) -> None:
    """A record and its ancestors; without TARGET, every record, newest first, each
    with its recipe in brief (seed, steps, sampler, main models, the prompt's start).
    The filters narrow either list; on a terminal the text goes through a pager.

    \b
    Example:
      repro log outputs/upscaled.png --graph
      repro log --grep fox --grep snow --model dreamshaper_8.safetensors --since yesterday
    """
    from repro.api.log import log as log_records
    from repro.cli.records import brief_lines, page, receipt_lines

    repo = state.repo()
    record = target_record(state, repo, target) if target else None
    records = log_records(repo, record, limit=limit, descendants=descendants, grep=grep,
                          model=model, tool=tool, level=level, tag=tag, since=since,
                          until=until, cwd=state.cwd)
    if as_json:
        emit_json_list({**r.show(), "receipts": [x.show() for x in repo.receipts.of(r.id)]}
                       for r in records)
        return
    if graph:
        from repro.api.query import parent_map
        from repro.lineage.textgraph import render_text_graph

        listed = list(records)
        page(render_text_graph(listed, parent_map(repo, listed)))
        return
    page(line for n, r in enumerate(records)
         for line in [*([""] if n else []), *brief_lines(r, state.cwd),
                      *receipt_lines([x.show() for x in repo.receipts.of(r.id)])])
