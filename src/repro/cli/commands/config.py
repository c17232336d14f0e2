"""``repro config``."""

from __future__ import annotations

import click

from repro.cli.options import State, json_option
from repro.cli.render import emit_json


@click.command()
@click.option("--example", is_flag=True,
              help="Print a .reprorc with every key, its default and what it does.")
@json_option
@click.pass_obj
def config(state: State, example: bool, as_json: bool) -> None:
    """The effective configuration: every key, its value and where it came from
    (a .reprorc file, the command line, or the default), and the folders it gives.

    \b
    Example:
      repro config
      repro config --example > .reprorc
    """
    from repro.api.settings import effective_config
    from repro.api.settings import example as example_text

    if example:
        click.echo(example_text(), nl=False)
        return

    result = effective_config(state.cwd)
    if as_json:
        emit_json(result.to_dict())
        return
    click.echo(f"project   {result.root or '(not in a repository)'}")
    click.echo(f"files     {', '.join(result.files) or '(none: every value is the default)'}")
    width = max(map(len, result.values))
    for key, entry in result.values.items():
        value = _toml(entry["value"])
        click.echo(f"{key:<{width}}  {value:<24} ({entry['source']})")
    for title, folders in (("model roots", result.model_roots),
                           ("input folders", result.input_dirs),
                           ("output folders", result.output_dirs)):
        click.echo(f"{title}:")
        for folder in folders:
            click.echo(f"    {folder}")
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)


def _toml(value: object) -> str:
    if value is None:
        return '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)
