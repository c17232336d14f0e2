"""Records as text: ``log``'s recipe in brief, ``show``'s full view, and the pager."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from repro.cli.render import display_path, params_line, short, stage_lines

if TYPE_CHECKING:
    from repro.record import Record

#: Roles named first in a brief recipe (the model that decides most).
_MAIN_ROLES = ("checkpoint", "unet")


def width() -> int:
    return shutil.get_terminal_size((100, 24)).columns


def page(lines: Iterable[str]) -> None:
    """Lines on stdout as they come, through a pager when stdout is a terminal (as
    git does: ``less`` quits at once when it all fits on one screen)."""
    if sys.stdout.isatty() and not os.environ.get("REPRO_NO_PAGER"):
        os.environ.setdefault("LESS", "FRX")
        click.echo_via_pager(f"{line}\n" for line in lines)
    else:
        for line in lines:
            click.echo(line)


def _cut(text: str, limit: int | None) -> str:
    text = " ".join(text.split())
    return text if limit is None or len(text) <= limit else text[:max(limit - 3, 1)] + "..."


def recipe(record: Record) -> str:
    """Seed, steps, sampler, cfg and the main models, on one line."""
    p = record.params
    bits = []
    if p.get("seed") is not None:
        bits.append(f"seed {p.get('seed')}")
    if p.get("steps") is not None:
        bits.append(f"{p.get('steps')} steps")
    sampler = "/".join(str(p.get(k)) for k in ("sampler", "scheduler") if p.get(k))
    if sampler:
        bits.append(sampler)
    if p.get("cfg") is not None:
        bits.append(f"cfg {p.get('cfg')}")
    models = sorted(record.models, key=lambda m: m.role not in _MAIN_ROLES)
    names = [f"{Path(m.name or m.path or '?').name}"
             + (f" {m.strength}" if m.strength is not None else "") for m in models
             if m.role in (*_MAIN_ROLES, "lora")]
    if len(names) > 3:
        names = [*names[:3], f"+{len(names) - 3}"]
    line = ", ".join(bits)
    if names:
        line += (" | " if line else "") + ", ".join(names)
    return line


def brief_lines(record: Record, cwd: Path) -> list[str]:
    """A record in three lines: id, path, tool, level, time; the recipe; the prompt's start."""
    at = (record.captured.at or "")[:16].replace("T", " ")
    path = display_path(record.output.path or "", cwd)
    lines = [click.style(short(record.id), fg="yellow")
             + f"  {path}  {record.tool.name}, {record.level}, {at}"]
    if line := recipe(record):
        lines.append(f"    {_cut(line, width() - 4)}")
    if prompt := record.params.get("prompt"):
        lines.append(f"    {_cut(str(prompt), width() - 4)}")
    return lines


def receipt_lines(receipts: list[dict[str, Any]], indent: str = "    ") -> list[str]:
    """Rerun receipts (``Receipt.show()`` dicts), one line each."""
    return [f"{indent}rerun     {short(r.get('id'))} {r.get('summary')}" for r in receipts]


def _params_lines(params: dict[str, Any], limit: int | None) -> list[str]:
    lines = []
    for key in ("prompt", "negative_prompt"):
        if params.get(key):
            lines.append(f"  {key:<9} {_cut(str(params[key]), limit)}")
    if line := params_line(params):
        lines.append(f"  params    {line}")
    return lines + [f"    stage   {stage}" for stage in stage_lines(params)]


def show_lines(record: Record, *, full: bool) -> list[str]:
    """``show``: prompts cut to three terminal lines, or everything with ``full``
    (whole prompts, every other parameter, the environment and the raw blobs)."""
    out = record.output
    lines = [click.style(f"record {record.id}", fg="yellow"),
             f"  output    {out.path}  (blake3 {short(out.blake3)}, {out.width}x{out.height})",
             f"  tool      {record.tool.name} {record.tool.version or ''}".rstrip(),
             f"  captured  {record.captured.at}"]
    params = record.params.to_dict()
    lines += _params_lines(params, None if full else 3 * width() - 14)
    if full:
        shown = {"prompt", "negative_prompt", "seed", "steps", "cfg", "sampler", "scheduler",
                 "denoise", "width", "height", "clip_skip", "rng", "samplers"}
        lines += [f"  param     {k} = {v}" for k, v in sorted(params.items()) if k not in shown]
    for m in record.models:
        extra = f" strength {m.strength}" if m.strength is not None else ""
        lines.append(f"  model     {m.role:<12} {m.name}{extra} -> {m.path or 'not found'} "
                     f"(blake3 {m.blake3 if full else short(m.blake3)})")
    lines += [f"  input     {i.role:<12} {i.name} (blake3 {short(i.blake3)})"
              for i in record.inputs]
    lines += [f"  parent    {short(p.id)} ({p.relation})" for p in record.parents]
    if record.supersedes:
        lines.append(f"  replaces  {short(record.supersedes)} (an earlier capture of this output)")
    lines.append(f"  level     {record.level}")
    lines += [f"    - {reason}" for reason in record.assessment.texts]
    if full:
        env = record.environment or {}
        lines += [f"  env       {k} = {env[k]}" for k in sorted(env)
                  if isinstance(env[k], str | int | float)]
        lines += [f"  blob      {k} {v}" for k, v in sorted(record.source.blobs.items())]
    if record.message:
        lines += ["", f"    {record.message}"]
    return lines
