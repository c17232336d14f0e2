"""Rendering shared by several commands: JSON on stdout, progress, paths, records."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from repro.api.push import Synced


def note(message: str) -> None:
    """A message from the library (``repo.notify``), on stderr."""
    click.echo(f"repro: {message}", err=True)


def emit_json(value: Any) -> None:
    import orjson

    sys.stdout.buffer.write(orjson.dumps(value, option=orjson.OPT_INDENT_2
                                         | orjson.OPT_NON_STR_KEYS) + b"\n")
    sys.stdout.flush()


def emit_json_list(items: Iterable[Any]) -> None:
    """A JSON list written item by item (the same document ``emit_json`` writes
    for a list): memory stays flat however long the list is."""
    import orjson

    out = sys.stdout.buffer
    first = True
    for item in items:
        body = orjson.dumps(item, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
        out.write((b"[\n  " if first else b",\n  ") + body.replace(b"\n", b"\n  "))
        first = False
    out.write(b"[]\n" if first else b"\n]\n")
    out.flush()


def echo_lines(lines: Iterable[str], chunk: int = 1024) -> None:
    """Lines on stdout, ``chunk`` to a write: one ``click.echo`` a line costs
    more than the query behind a long list (21,000 lines of ``repro uses``)."""
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) == chunk:
            click.echo("\n".join(batch))
            batch.clear()
    if batch:
        click.echo("\n".join(batch))


class Progress:
    """A one-line progress indicator on stderr, shown only on a terminal (quiet
    when stderr is a file or a pipe, or with ``REPRO_NO_PROGRESS``). The line is
    cleared when a task reaches its total."""

    def __init__(self, label: str = "") -> None:
        self.enabled = sys.stderr.isatty() and not os.environ.get("REPRO_NO_PROGRESS")
        self.label = label
        self.shown = False
        self._last = -1.0
        self._started: tuple[str, float] | None = None

    def __call__(self, what: str, done: int, total: int) -> None:
        if not self.enabled or total < 2:
            return
        now = time.monotonic()
        if self._started is None or self._started[0] != what:
            self._started = (what, now)
        if done >= total:
            self.done()
            return
        if now - self._last < 0.1:  # a few redraws a second are enough
            return
        self._last = now
        width = 30
        filled = int(width * done / total)
        count = f"{done}/{total}"
        if total >= 2**20:
            elapsed = now - self._started[1]
            rate = f", {done / elapsed / 2**20:.0f} MiB/s" if elapsed > 0.5 else ""
            count = f"{human_bytes(done)} of {human_bytes(total)}{rate}"
        click.echo(f"\r\x1b[K{what} [{'#' * filled}{'.' * (width - filled)}] {count}",
                   err=True, nl=False)
        self.shown = True

    def done(self) -> None:
        if self.shown:
            click.echo("\r\x1b[K", err=True, nl=False)
            self.shown = False


def display_path(path: str, cwd: Path) -> str:
    """A path as a person typed it: relative to where the command ran, when below it."""
    try:
        return str(Path(path).relative_to(cwd))
    except ValueError:
        return path


def human_bytes(n: int | None) -> str:
    """``2.9 GiB``, ``512 KiB``, ``80 bytes``."""
    if n is None:
        return "? bytes"
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{n} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"


def short(oid: str | None) -> str:
    return (oid or "?")[:12]


#: The parameters a record's one-line recipe shows, in order.
HEADLINE_PARAMS = ("seed", "steps", "cfg", "sampler", "scheduler", "denoise", "width", "height",
                   "clip_skip", "rng")


def where_note(location: str, in_store: bool, remotes: list[str]) -> str:
    """Where a recorded version is, in a few words after a model line: nothing when it
    is in the store; the remotes that had it at the last sync; or nowhere."""
    if in_store:
        return ""
    if location == "remote":
        return f"  (not in store; on remote {', '.join(remotes)} as of last sync)"
    if location == "nowhere":
        return "  (not in store) nor on any remote"
    return "  (not in store)"


def params_line(params: dict[str, Any]) -> str:
    """``seed 7, steps 20, ...``: the headline parameters a record has."""
    return ", ".join(f"{k} {params[k]}" for k in HEADLINE_PARAMS if params.get(k) is not None)


def stage_lines(params: dict[str, Any]) -> list[str]:
    """One line a sampling stage, when there are several."""
    stages = params.get("samplers") or []
    return [f"node {s.get('node')} {s.get('class_type')}: seed {s.get('seed')}, steps "
            f"{s.get('steps')}, cfg {s.get('cfg')}, {s.get('sampler')}/{s.get('scheduler')}, "
            f"denoise {s.get('denoise')}" for s in stages] if len(stages) > 1 else []


def render_params(params: dict[str, Any], indent: str) -> None:
    for key in ("prompt", "negative_prompt"):
        if params.get(key):
            text = str(params[key]).replace("\n", " ")
            click.echo(f"{indent}{key:<9} {text[:200]}{'...' if len(text) > 200 else ''}")
    if line := params_line(params):
        click.echo(f"{indent}params    {line}")
    for stage in stage_lines(params):
        click.echo(f"{indent}  stage   {stage}")


class Status:
    """What a long run is doing, on one line of stderr (a terminal only): a job's state
    on the server, and ``done/total`` when there are several."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty() and not os.environ.get("REPRO_NO_PROGRESS")
        self.shown = False

    def __call__(self, what: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        count = f"[{done}/{total}] " if total > 1 else ""
        click.echo(f"\r\x1b[K{count}{what}", err=True, nl=False)
        self.shown = True

    def done(self) -> None:
        if self.shown:
            click.echo("\r\x1b[K", err=True, nl=False)
            self.shown = False


def render_receipts(receipts: list[dict[str, Any]], indent: str = "  ") -> None:
    """Rerun receipts, one line each (``Receipt.show()`` dicts)."""
    for r in receipts:
        click.echo(f"{indent}rerun     {short(r.get('id'))} {r.get('summary')}")


def synced(done: Synced, verb: str, as_json: bool) -> None:
    """What a push, pull or clone moved, in a line (and its tags)."""
    if as_json:
        emit_json(done.to_dict())
        return
    t = done.transfer
    click.echo(f"{verb} {len(t.records)} records, {t.objects} objects ({t.bytes:,} bytes; "
               f"{t.packs} packs, {t.large} large) {'to' if verb == 'pushed' else 'from'} "
               f"{done.remote}")
    for tag in done.tags:
        click.echo(f"tag {tag['name']} -> {tag['id'][:12]}")
    if t.unavailable:
        click.echo(f"{len(t.unavailable)} objects named by records are in neither store "
                   "(dropped model versions)")
