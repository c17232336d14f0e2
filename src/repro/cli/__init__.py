"""The ``repro`` command line: argument plumbing, one library call, rendering.

This package is the only place that uses click, prints, reads environment
variables or prompts. Each command lives in its own module under
``repro.cli.commands`` and is listed once in ``COMMANDS`` below. ``main``
runs them through ``repro.cli.entry``, the one place that turns errors into
an ``error:`` line (and a ``hint:``) on stderr and an exit code.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from repro import __version__
from repro.cli.commands.add import add
from repro.cli.commands.checkout import checkout
from repro.cli.commands.clone import clone
from repro.cli.commands.config import config
from repro.cli.commands.demo import demo
from repro.cli.commands.descendants import descendants
from repro.cli.commands.diff import diff
from repro.cli.commands.env import env
from repro.cli.commands.export import export
from repro.cli.commands.fsck import fsck
from repro.cli.commands.gc import gc
from repro.cli.commands.graph import graph
from repro.cli.commands.init import init
from repro.cli.commands.inspect import inspect
from repro.cli.commands.log import log
from repro.cli.commands.models import models
from repro.cli.commands.pull import pull
from repro.cli.commands.push import push
from repro.cli.commands.remote import remote
from repro.cli.commands.rerun import rerun
from repro.cli.commands.show import show
from repro.cli.commands.status import status
from repro.cli.commands.store import store
from repro.cli.commands.tag import tag
from repro.cli.commands.uses import uses
from repro.cli.commands.variations import variations
from repro.cli.commands.vary import vary
from repro.cli.commands.verify import verify
from repro.cli.commands.watch import watch
from repro.cli.entry import invoke
from repro.cli.options import State
from repro.errors import UsageError

#: Every command of ``repro`` (``--help`` lists them by name).
COMMANDS: list[click.Command] = [
    init, inspect, add, show, log, descendants, variations, graph, diff, verify, checkout,
    rerun, vary, export, uses, models, tag, store, status, fsck, gc, env, config, watch, demo,
    remote, push, pull, clone,
]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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


for _command in COMMANDS:
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> int:
    """Console entry point: run ``repro`` and turn errors into exit codes."""
    return invoke(cli, argv)


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
