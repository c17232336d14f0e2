"""Running a command group: the one place that turns errors into exit codes.

A ``ReproError`` becomes one ``error:`` line (and a ``hint:``) on stderr and
its exit code; anything else an ``internal error`` line and exit status 1.
Tracebacks only with ``--debug``.
"""

from __future__ import annotations

import os
import sys

import click

from repro.errors import ReproError


def invoke(group: click.Command, argv: list[str] | None = None) -> int:
    """Run ``group`` with ``argv`` (default: the process's); return the exit code."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    _arm_test_hooks()
    try:
        code = group.main(args=argv, prog_name="repro", standalone_mode=False)
    except ReproError as exc:
        if debug:
            raise
        click.echo(f"error: {exc}", err=True)
        if exc.hint:
            click.echo(f"hint: {exc.hint}", err=True)
        return exc.exit_code
    except click.UsageError as exc:
        # One line and a hint, as every other error (click's own form takes four).
        click.echo(f"error: {exc.format_message()}", err=True)
        where = exc.ctx.command_path if exc.ctx is not None else "repro"
        click.echo(f"hint: see `{where} --help`", err=True)
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
