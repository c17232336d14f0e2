"""The ``repro`` command line: argument plumbing, one library call, rendering.

This package is the only place that uses click, prints, reads environment
variables or prompts. Each command lives in its own module under
``repro.cli.commands`` and is listed once in ``COMMANDS`` below. ``main`` is
the one place that turns errors into an ``error:`` line (and a ``hint:``) on
stderr and an exit code; tracebacks only with ``--debug``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from repro import __version__
from repro.cli.commands.add import add
from repro.cli.commands.checkout import checkout
from repro.cli.commands.demo import demo
from repro.cli.commands.descendants import descendants
from repro.cli.commands.diff import diff
from repro.cli.commands.env import env
from repro.cli.commands.fsck import fsck
from repro.cli.commands.gc import gc
from repro.cli.commands.graph import graph
from repro.cli.commands.init import init
from repro.cli.commands.inspect import inspect
from repro.cli.commands.log import log
from repro.cli.commands.models import models
from repro.cli.commands.show import show
from repro.cli.commands.uses import uses
from repro.cli.commands.variations import variations
from repro.cli.commands.verify import verify
from repro.cli.commands.watch import watch
from repro.cli.options import State
from repro.errors import ReproError, UsageError

#: Every command of ``repro`` (``--help`` lists them by name).
COMMANDS: list[click.Command] = [
    init, inspect, add, show, log, descendants, variations, graph, diff, verify, checkout,
    uses, models, fsck, gc, env, watch, demo,
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
    """Console entry point: run the CLI and turn errors into exit codes."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    _arm_test_hooks()
    try:
        code = cli.main(args=argv, prog_name="repro", standalone_mode=False)
    except ReproError as exc:
        if debug:
            raise
        click.echo(f"error: {exc}", err=True)
        if exc.hint:
            click.echo(f"hint: {exc.hint}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        return 130
    except BrokenPipeError:
        return 141
    except OSError as exc:
        if debug:
            raise
        click.echo(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
        return 1
    except Exception as exc:
        if debug:
            raise
        if type(exc).__module__ == "sqlite3":  # e.g. "database or disk is full"
            click.echo(f"error: the index database: {exc}", err=True)
            click.echo("hint: free disk space if it is full; a damaged index is rebuilt by "
                       "`repro fsck --repair`", err=True)
            return 1
        click.echo(f"error: internal error: {type(exc).__name__}: {exc}", err=True)
        click.echo("hint: run again with --debug for the traceback, and report it", err=True)
        return 1
    return code if isinstance(code, int) else 0


def _arm_test_hooks() -> None:
    """Crash points for the reliability tests (``repro.objects.faults``); off unless set."""
    crash_at = os.environ.get("REPRO_TEST_CRASH_AT")
    delay = os.environ.get("REPRO_TEST_CHECKPOINT_DELAY")
    if not crash_at and not delay:
        return
    from repro.objects import faults

    try:
        seconds = float(delay or 0)
    except ValueError:
        seconds = 0.0
    faults.arm(crash_at, delay=seconds)


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
