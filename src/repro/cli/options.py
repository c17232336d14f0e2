"""What every command shares: the per-run state and the common options."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from repro.config import STORE_MODES

if TYPE_CHECKING:
    from repro.api.repository import Repository
    from repro.record import Record

F = TypeVar("F", bound=Callable[..., Any])


class State:
    """Where the command runs (``-C``), ``--debug`` and ``--lock-timeout``."""

    def __init__(self, cwd: Path, debug: bool):
        self.cwd = cwd
        self.debug = debug
        self.lock_timeout: float | None = None

    def here(self, path: Path | None) -> Path | None:
        """A path option as the user meant it: relative to ``-C DIR`` (or None)."""
        return self.cwd / path if path is not None else None

    def repo(self) -> Repository:
        from repro.api.repository import Repository
        from repro.cli.render import Progress, note

        overrides = ({"lock": {"timeout": self.lock_timeout}}
                     if self.lock_timeout is not None else None)
        repo = Repository.discover(self.cwd, overrides=overrides)
        repo.notify = note
        repo.progress = Progress()
        # Closed (the index checkpointed) when the command ends, not when the
        # collector finds it: ``run`` leaves cycles to the end of the process.
        ctx = click.get_current_context(silent=True)
        if ctx is not None:
            ctx.call_on_close(repo.close)
        return repo


def target_record(state: State, repo: Repository, target: str) -> Record:
    return repo.resolve_target(target, cwd=state.cwd)


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True,
                        help="Print machine-readable JSON on stdout.")(f)


def lock_timeout_option(f: F) -> F:
    """``--lock-timeout S`` on every command that writes."""

    def remember(ctx: click.Context, _param: click.Parameter, value: float | None) -> None:
        if value is not None:
            ctx.find_object(State).lock_timeout = value  # type: ignore[union-attr]

    return click.option("--lock-timeout", type=float, expose_value=False, callback=remember,
                        help="Seconds to wait for another writer (default: config "
                             "lock.timeout), then fail with exit status 6.")(f)


def store_mode_option(f: F) -> F:
    """``--mode`` on the commands that put model files into the store."""
    return click.option("--mode", type=click.Choice(STORE_MODES),
                        help="How model files enter the store (default: config store.mode).")(f)
