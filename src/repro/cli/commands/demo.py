"""``repro demo``."""

from __future__ import annotations

from pathlib import Path

import click

from repro.cli.options import State
from repro.errors import ReproError, UsageError


@click.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.option("--comfyui", metavar="URL",
              help="A running ComfyUI: the story ends with a rerun and variations on it.")
@click.option("--comfyui-root", type=click.Path(file_okay=False, path_type=Path),
              help="That server's folder (its input and output folders are used).")
@click.option("--keep", is_flag=True,
              help="Keep the temporary folder (without DIR, it is removed at the end).")
@click.pass_obj
def demo(state: State, directory: Path | None, comfyui: str | None,
         comfyui_root: Path | None, keep: bool) -> None:
    """Run the story repro exists for, in a scratch folder, printing each command.

    Images carrying real ComfyUI and AUTOMATIC1111 metadata and small model
    files are generated; a checkpoint is then updated under the same name and a
    LoRA renamed; verify explains, checkout restores, diff compares. With a
    running ComfyUI (--comfyui URL --comfyui-root DIR), a seeded job made on it
    is re-run (pixels compared, receipt kept), varied and exported. Without
    DIR, the story runs in a temporary folder that is removed at the end
    (unless --keep).

    \b
    Example:
      repro demo /tmp/repro-demo
      repro demo --comfyui http://127.0.0.1:8188 --comfyui-root ~/ComfyUI
    """
    from repro.demo import demo_folder

    if (comfyui is None) != (comfyui_root is None):
        raise UsageError("give --comfyui URL and --comfyui-root DIR together")
    root = demo_folder(state.here(directory))
    scratch = directory is None and not keep
    try:
        failures = _run_story(root, comfyui, state.here(comfyui_root))
    finally:
        if scratch:
            import shutil

            shutil.rmtree(root, ignore_errors=True)
    if failures:
        raise ReproError("the demo did not go as scripted: " + "; ".join(failures))
    if scratch:
        click.secho(f"\nThe demo ran in {root}, now removed (give DIR or --keep to keep it)",
                    bold=True)
    else:
        click.secho(f"\nThe demo project is in {root}", bold=True)


def _run_story(root: Path, comfyui: str | None, comfyui_root: Path | None) -> list[str]:
    from repro.cli.entry import invoke
    from repro.demo import Action, Command, Note, story

    repro = click.get_current_context().find_root().command
    failures = []
    for step in story(root, comfyui=comfyui, comfyui_root=comfyui_root):
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
    return failures
