"""``repro descendants``: ``repro log --descendants``."""

from __future__ import annotations

import click

from repro.cli.commands.log import log
from repro.cli.options import State, json_option


@click.command()
@click.argument("target")
@click.option("-n", "limit", type=click.IntRange(min=1), help="Show at most N records.")
@click.option("--graph", "as_graph", is_flag=True, help="Draw them as a text graph.")
@json_option
@click.pass_obj
def descendants(state: State, target: str, limit: int | None, as_graph: bool,
                as_json: bool) -> None:
    """TARGET and every output made from it (img2img, upscales, ...); as log --descendants.

    \b
    Example:
      repro descendants outputs/base.png --graph
    """
    ctx = click.get_current_context()
    ctx.invoke(log, target=target, limit=limit, graph=as_graph, descendants=True,
               as_json=as_json)
