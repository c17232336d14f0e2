"""``repro identify``."""

from __future__ import annotations

from pathlib import Path

import click

from repro.cli.options import State, json_option
from repro.cli.render import emit_json, short


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--max-distance", type=click.IntRange(0, 64), default=10, show_default=True,
              help="Fingerprint bits (of 64) that may differ for a candidate.")
@click.option("--limit", type=click.IntRange(1), default=10, show_default=True,
              help="Candidates shown at most.")
@json_option
@click.pass_obj
def identify(state: State, file: Path, max_distance: int, limit: int, as_json: bool) -> None:
    """Find the record of FILE, a copy that may be stripped of metadata,
    re-encoded, resized or cropped: same bytes, then same pixels, then a close
    perceptual fingerprint; candidates best first. A fingerprint candidate 8 or
    more bits away is marked weak: a lead to check by eye, not an
    identification. Exit 3 when none is close.

    \b
    Example:
      repro identify ~/Downloads/delivered_final.jpg --json
    """
    from repro.api.identify import identify as find

    repo = state.repo()
    found = find(repo, state.here(file) or file, max_distance=max_distance, limit=limit,
                 progress=repo.progress)
    if as_json:
        emit_json([c.to_dict() for c in found])
        return
    for c in found:
        how = "same bytes" if c.how == "bytes" else "same pixels" if c.how == "pixels" \
            else f"fingerprint, {c.distance} of 64 bits differ"
        if c.weak:
            how += "; weak: check by eye"
        click.echo(f"{short(c.id)} {c.path or '?'} ({how})")
    if all(c.weak for c in found):
        click.echo("note: only weak candidates: unrelated images come this close in a large "
                   "store; compare them with the file before taking one for its record",
                   err=True)
