"""``repro variations``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from repro.cli.options import State, json_option, target_record
from repro.cli.render import emit_json, short


@click.command()
@click.argument("target")
@click.option("--sheet", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a contact sheet of what `repro vary` made (.html page or .png).")
@json_option
@click.pass_obj
def variations(state: State, target: str, sheet: Path | None, as_json: bool) -> None:
    """Outputs that differ from TARGET in exactly one parameter (or only the seed).

    Grouped by the parameter that differs; a model's version or a LoRA's
    strength counts as one parameter. First, what `repro vary` made from
    TARGET (relation variation-of), grouped by the parameter it changed.

    \b
    Example:
      repro variations outputs/ComfyUI_00042_.png
    """
    from repro.api.query import variations as find
    from repro.api.vary import made_variations

    repo = state.repo()
    record = target_record(state, repo, target)
    result = find(repo, record)
    made = made_variations(repo, record)
    if sheet is not None:
        from repro.api.sheet import contact_sheet

        items = [(f"{g.parameter}={_value(m['value'])}", repo.load_record(m["id"]))
                 for g in made for m in g.records]
        contact_sheet(repo, record, items, state.cwd / sheet)
    if as_json:
        emit_json({**result.to_dict(), "made": [g.to_dict() for g in made]})
        return
    click.echo(f"{short(record.id)} {record.output.path}")
    for g in made:
        click.secho(f"  made by vary, {g.parameter}:", bold=True)
        for m in g.records:
            click.echo(f"    {short(m['id'])} {m['path']}: {_value(m['value'])}")
    if not result.groups:
        click.echo(f"  no output differs in exactly one parameter (compared {result.compared})")
    for group in result.groups:
        click.secho(f"  {group.title} (here {_value(group.value)}):", bold=True)
        for m in group.records:
            click.echo(f"    {short(m['id'])} {m['path']}: {_value(m['value'])}")
    if result.truncated:
        click.echo(f"  (compared the {result.compared} most likely records only)")


def _value(value: Any) -> str:
    if isinstance(value, list) and len(value) == 2 and all(
            v is None or isinstance(v, (int, float)) for v in value):
        return " / ".join("?" if v is None else f"{v:g}" for v in value if v is not None) \
            or "?"
    if isinstance(value, str) and len(value) == 64:
        return short(value)
    text = repr(value) if not isinstance(value, (int, float)) else str(value)
    return text if len(text) <= 70 else text[:67] + "..."
