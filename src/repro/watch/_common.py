"""What the folder watcher and the ComfyUI follower share: state files, the poll
loop, and turning an ``add`` result into events.

Nothing here prints: events go to a ``notify`` callable as dicts with an
``"event"`` key.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

from repro.api.add import AddResult
from repro.api.add.session import EnvironmentArg
from repro.api.repository import Repository
from repro.objects import hashing
from repro.objects.atomic import write_bytes

Notify = Callable[[dict[str, Any]], None]
Environment = Callable[[], dict[str, Any] | None]
#: A folder watcher's environment: asked per batch, it may be per tool (``add``'s).
FolderEnvironment = Callable[[], EnvironmentArg]


def quiet(_event: dict[str, Any]) -> None:
    """A ``notify`` that drops every event."""


# -- state files ------------------------------------------------------------------------


def state_path(repo: Repository, kind: str, key: str) -> Path:
    digest = hashing.hash_bytes(key.encode())
    return repo.dot / f"watch-{kind}-{digest[:16]}.json"


def load_state(path: Path) -> dict[str, Any]:
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, orjson.JSONDecodeError):
        # A damaged state file only costs a re-check: re-adding is idempotent.
        return {}
    return data if isinstance(data, dict) else {}


def save_state(repo: Repository, path: Path, state: Mapping[str, Any]) -> None:
    tmp = repo.dot / "tmp"
    tmp.mkdir(exist_ok=True)
    write_bytes(path, orjson.dumps(state, option=orjson.OPT_SORT_KEYS), tmp_dir=tmp)


def run_loop(poll: Callable[[], bool], *, interval: float, stop: threading.Event,
             wake: threading.Event | None = None) -> None:
    """Call ``poll`` every ``interval`` seconds until ``stop`` is set.

    ``poll`` returns True when it has work still pending (a file not yet
    stable), which shortens the next wait so a burst settles quickly.
    """
    while not stop.is_set():
        busy = poll()
        wait = min(interval, 0.25) if busy else interval
        if wake is None:
            stop.wait(wait)
            continue
        # Wake early on a file event, but still notice ``stop`` within a tenth of a second.
        deadline = time.monotonic() + wait
        while not stop.is_set() and not wake.is_set() and time.monotonic() < deadline:
            wake.wait(min(0.1, max(0.0, deadline - time.monotonic())))
        wake.clear()


def notify_added(notify: Callable[[dict[str, Any]], None], result: AddResult,
                 paths: Iterable[Path],
                  *, unexplained: str | None = None,
                  extra: Callable[[Path], dict[str, Any]] = lambda _p: {}) -> None:
    """One event per path ``add`` was given: captured, known or skipped (a path the
    result does not mention is reported skipped for ``unexplained``, if given)."""
    by_path = {r.path: r for r in result.records}
    skipped = {s["path"]: s["reason"] for s in result.skipped}
    for path in paths:
        captured = by_path.get(str(path))
        if captured is not None:
            r = captured.record
            notify({"event": "known" if captured.existing else "captured", "path": str(path),
                    "id": r.id, "level": r.level, "reasons": r.assessment.texts,
                    **extra(path)})
        elif str(path) in skipped or unexplained is not None:
            notify({"event": "skipped", "path": str(path),
                    "reason": skipped.get(str(path), unexplained), **extra(path)})
