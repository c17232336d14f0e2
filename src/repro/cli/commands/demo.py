"""``repro demo``."""

from __future__ import annotations

from pathlib import Path

import click

from repro.cli.options import State
from repro.errors import ReproError


@click.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.pass_obj
def demo(state: State, directory: Path | None) -> None:
    """Run the story repro exists for, in a scratch folder, printing each command.

    Images carrying real ComfyUI and AUTOMATIC1111 metadata and small model
    files are generated; a checkpoint is then updated under the same name and a
    LoRA renamed; verify explains, checkout restores, diff compares.

    \b
    Example:
      repro demo /tmp/repro-demo
    """
    from repro.cli.entry import invoke
    from repro.demo import Action, Command, Note, demo_folder, story

    root = demo_folder(state.here(directory))
    repro = click.get_current_context().find_root().command
    failures = []
    for step in story(root):
        if isinstance(step, Note):
            click.secho(f"\n# {step.text}", fg="cyan")
        elif isinstance(step, Action):
            click.secho(f"$ {step.text}", fg="green")
            step.run()
        elif isinstance(step, Command):
            click.secho(f"$ repro {' '.join(step.args)}", fg="green")
            code = invoke(repro, ["-C", str(root), *step.args])
            if (code != 0) != step.expect_failure:
                failures.append(f"repro {' '.join(step.args)} exited {code}")
    if failures:
        raise ReproError("the demo did not go as scripted: " + "; ".join(failures))
    click.secho(f"\nThe demo project is in {root}", bold=True)
