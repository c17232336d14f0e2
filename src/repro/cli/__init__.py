"""The ``repro`` command line: argument plumbing, one library call, rendering.

This package is the only place that uses click, prints, reads environment
variables or prompts. Each command lives in its own module under
``repro.cli.commands`` and is listed once in ``COMMANDS`` below. ``main``
runs them through ``repro.cli.entry``, the one place that turns errors into
an ``error:`` line (and a ``hint:``) on stderr and an exit code.
"""

from __future__ import annotations

import gc
import importlib
import sys
from pathlib import Path
from typing import Any

import click

from repro import __version__
from repro.cli.entry import invoke
from repro.cli.options import State
from repro.errors import UsageError

#: Every command of ``repro``, as (name, module under ``repro.cli.commands``
#: whose attribute of that name is the command). A module is imported only
#: when its command runs or ``--help`` lists it, so that starting ``repro``
#: costs click and the one command in use.
COMMANDS: list[tuple[str, str]] = [(name, f"repro.cli.commands.{name}") for name in (
    "init", "inspect", "add", "show", "log", "descendants", "variations", "graph", "diff",
    "verify", "checkout", "rerun", "vary", "export", "identify", "uses", "models", "tag", "store",
    "status",
    "fsck", "gc", "env", "config", "watch", "demo", "remote", "push", "pull", "clone",
)]


class LazyGroup(click.Group):
    """A group that imports a command's module the first time the command is asked for."""

    def __init__(self, *args: Any, lazy: list[tuple[str, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.lazy, *(n for n in super().list_commands(ctx) if n not in self.lazy)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            command = getattr(importlib.import_module(self.lazy[cmd_name]), cmd_name)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, lazy=COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-C", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Run as if started in DIR.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(__version__, prog_name="repro")
@click.pass_context
def cli(ctx: click.Context, directory: Path | None, debug: bool) -> None:
    """repro: versioned, content-addressed capture of generated images.

    Every output gets an execution snapshot: the parameters the engine used,
    every model file by content hash, the raw metadata, the tool and the
    environment. Then ask where an image came from, what differs between two
    images, and put the exact model versions back.

    \b
    Example:
      repro init
      repro add outputs/
      repro verify outputs/ComfyUI_00001_.png
    """
    cwd = (directory or Path.cwd()).resolve() if directory else Path.cwd()
    if directory and not cwd.is_dir():
        raise UsageError(f"-C {directory}: no such folder")
    ctx.obj = State(cwd, debug)


def main(argv: list[str] | None = None) -> int:
    """Console entry point: run ``repro`` and turn errors into exit codes."""
    return invoke(cli, argv)


def run() -> None:
    """The ``repro`` program: ``main``, then the process ends."""
    # What importing click and repro made lives as long as the process: the cycle
    # collector need not go through it again at each of its passes.
    gc.freeze()
    code = main()
    # What the command left is collected now (a connection closed by its finalizer
    # included), the rest frozen too: at exit the collector would go through the
    # hundreds of thousands of objects the imports made, twice (about 10 ms of a
    # one-image add's CPU).
    gc.collect()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
