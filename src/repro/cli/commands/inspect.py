"""``repro inspect``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from repro.cli.options import State, json_option
from repro.cli.render import emit_json, render_params


@click.command()
@click.argument("files", nargs=-1, required=True,
                type=click.Path(readable=False, path_type=Path))
@json_option
@click.pass_obj
def inspect(state: State, files: tuple[Path, ...], as_json: bool) -> None:
    """Read the generation metadata of image files (needs no repository).

    \b
    Example:
      repro inspect ComfyUI_00001_.png --json
    """
    from repro.api.query import inspect as inspect_files

    results = inspect_files([state.cwd / f for f in files])
    if as_json:
        emit_json([r.to_dict() for r in results])
        return
    for r in results:
        _render_inspect(r.to_dict())


def _render_inspect(r: dict[str, Any]) -> None:
    tool = r["tool"]
    click.secho(r["path"], bold=True)
    if tool is None:
        click.echo(f"  no generation metadata ({r['media_type']}, {r['width']}x{r['height']})")
        if r.get("provenance"):
            for key, value in r["provenance"].items():
                click.echo(f"  {key}: {value}")
        for reason in r["reasons"]:
            click.echo(f"  - {reason}")
        return
    version = f" {tool['version']}" if tool.get("version") else ""
    click.echo(f"  tool      {tool['name']}{version}  ({r['format']}, {r['metadata']})")
    render_params(r["params"], indent="  ")
    for m in r["models"]:
        extra = f" strength {m['strength']}" if m.get("strength") is not None else ""
        hashes = " ".join(f"{k}:{v}" for k, v in (m.get("hashes") or {}).items())
        click.echo(f"  model     {m['role']:<12} {m.get('name') or '?'}{extra}"
                   + (f"  [{hashes}]" if hashes else ""))
    for i in r["inputs"]:
        click.echo(f"  input     {i['role']:<12} {i.get('name') or '?'}")
    click.echo(f"  level     {r['level']}")
    for reason in r["reasons"]:
        click.echo(f"    - {reason}")
    for warning in r["warnings"]:
        click.echo(f"  warning   {warning}")
