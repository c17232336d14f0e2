"""``repro graph``."""

from __future__ import annotations

from pathlib import Path

import click

from repro.cli.options import State, json_option, target_record


@click.command()
@click.argument("target", required=False)
@click.option("--format", "fmt", type=click.Choice(["dot", "json", "graphml", "html"]),
              default="dot", show_default=True, help="What to write.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to FILE instead of stdout.")
@json_option
@click.pass_obj
def graph(state: State, target: str | None, fmt: str, output: Path | None,
          as_json: bool) -> None:
    """The lineage graph around TARGET (without TARGET: the newest records).

    Outputs and the model versions they used, with parent and model edges.
    --format html writes one self-contained page: thumbnails, models as boxes
    with short hashes, laid out by generation; click a node for its parameters.
    --json is --format json.

    \b
    Example:
      repro graph outputs/final.png --format html -o lineage.html
      repro graph --format dot | dot -Tsvg > lineage.svg
    """
    from repro.api.query import graph as lineage_graph

    repo = state.repo()
    record = target_record(state, repo, target) if target else None
    dest = state.here(output)
    text = lineage_graph(repo, record, format="json" if as_json else fmt, output=dest)
    if dest is None:
        click.echo(text, nl=False)
    else:
        click.echo(f"wrote {dest} ({fmt})", err=True)
