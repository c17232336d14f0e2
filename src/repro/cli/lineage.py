"""Lineage commands: ``graph``, ``variations``, ``descendants``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from repro.cli import State, cli, emit_json, json_option, short, target_record


@cli.command()
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
    from repro.api.query import graph_document

    repo = state.repo()
    record = target_record(state, repo, target) if target else None
    text = graph_document(repo, record, "json" if as_json else fmt)
    if output is None:
        click.echo(text, nl=False)
        return
    from repro.objects.atomic import write_bytes

    dest = state.cwd / output
    # A picture for people: readable like any file the user writes (mkstemp gives 0600).
    umask = os.umask(0)
    os.umask(umask)
    write_bytes(dest, text.encode("utf-8"), tmp_dir=dest.parent, mode=0o666 & ~umask)
    click.echo(f"wrote {dest} ({fmt})", err=True)


@cli.command()
@click.argument("target")
@json_option
@click.pass_obj
def variations(state: State, target: str, as_json: bool) -> None:
    """Outputs that differ from TARGET in exactly one parameter (or only the seed).

    Grouped by the parameter that differs; a model's version or a LoRA's
    strength counts as one parameter.

    \b
    Example:
      repro variations outputs/ComfyUI_00042_.png
    """
    from repro.api.query import variations as find

    repo = state.repo()
    record = target_record(state, repo, target)
    result = find(repo, record)
    if as_json:
        emit_json(result)
        return
    click.echo(f"{short(record.id)} {record.output.get('path')}")
    if not result["groups"]:
        click.echo(f"  no output differs in exactly one parameter "
                   f"(compared {result['compared']})")
    for group in result["groups"]:
        click.secho(f"  {group['title']} (here {_value(group['value'])}):", bold=True)
        for m in group["records"]:
            click.echo(f"    {short(m['id'])} {m['path']}: {_value(m['value'])}")
    if result["truncated"]:
        click.echo(f"  (compared the {result['compared']} most likely records only)")


def _value(value: Any) -> str:
    if isinstance(value, list) and len(value) == 2 and all(
            v is None or isinstance(v, (int, float)) for v in value):
        return " / ".join("?" if v is None else f"{v:g}" for v in value if v is not None) \
            or "?"
    if isinstance(value, str) and len(value) == 64:
        return short(value)
    text = repr(value) if not isinstance(value, (int, float)) else str(value)
    return text if len(text) <= 70 else text[:67] + "..."


@cli.command()
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
    log_command = cli.commands["log"]
    ctx.invoke(log_command, target=target, limit=limit, graph=as_graph, descendants=True,
               as_json=as_json)
