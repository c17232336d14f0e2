"""``repro inspect``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from repro.cli.options import State, json_option
from repro.cli.render import display_path, emit_json_list, render_params


@click.command()
@click.argument("files", nargs=-1, required=True,
                type=click.Path(readable=False, path_type=Path))
@click.option("--c2pa", is_flag=True,
              help="Validate C2PA manifests with the C2PA library: signature, signer, "
                   "generator, ingredients, whether the file changed after signing.")
@json_option
@click.pass_obj
def inspect(state: State, files: tuple[Path, ...], c2pa: bool, as_json: bool) -> None:
    """Read the generation metadata of image files and folders (needs no repository).

    Every file is reported, good and bad; the exit status is that of the first
    file that could not be read (4), else 1 when a C2PA manifest does not
    validate (with --c2pa), else 0. A folder is read as `add` reads it.

    \b
    Example:
      repro inspect ComfyUI_00001_.png --json
      repro inspect other_tools/
      repro inspect delivery/final.png --c2pa
    """
    from repro.api.inspect import Inspected, Unreadable, inspect_each

    skipped: list[dict[str, str]] = []
    failed: list[Unreadable] = []
    invalid: list[Inspected] = []
    read = 0

    def entries() -> Iterator[dict[str, Any]]:
        nonlocal read
        for found in inspect_each([state.cwd / f for f in files], c2pa=c2pa, skipped=skipped):
            read += 1
            if isinstance(found, Unreadable):
                failed.append(found)
            elif found.invalid_credentials:
                invalid.append(found)
            yield found.to_dict()

    if as_json:
        emit_json_list(entries())  # written as read: memory stays flat over any number
        for unreadable in failed:  # the errors go to stderr as well, as every error does
            click.echo(f"error: {unreadable.error}", err=True)
    else:
        for entry in entries():
            if "error" in entry:
                click.echo(f"error: {entry['error']}", err=True)
            else:
                _render_inspect({**entry, "path": display_path(entry["path"], state.cwd)})
        if len(files) > 1 or skipped or any(f.is_dir() for f in files):
            _render_summary(read, len(failed), len(skipped))
    for bad in invalid:
        changed = ": the file was changed after signing" if (
            bad.credentials or {}).get("changed_after_signing") else ""
        click.echo(f"error: {display_path(bad.path, state.cwd)}: its C2PA manifest does not "
                   f"validate{changed}", err=True)
    if failed or invalid:  # the first unreadable file's status, else 1 (a check failed)
        raise click.exceptions.Exit(failed[0].error.exit_code if failed else 1)


def _render_summary(total: int, failed: int, skipped: int) -> None:
    text = f"{total - failed} file(s) read, {failed} could not be read"
    if skipped:
        text += f", {skipped} not an image (passed over)"
    click.echo(text, err=True)


def _render_inspect(r: dict[str, Any]) -> None:
    tool = r["tool"]
    click.secho(r["path"], bold=True)
    if tool is None:
        click.echo(f"  no generation metadata ({r['media_type']}, {r['width']}x{r['height']})")
        if r.get("provenance"):
            for key, value in r["provenance"].items():
                click.echo(f"  {key}: {value}")
        for reason in r["reasons"]:
            click.echo(f"  - {reason}")
        _render_c2pa(r.get("c2pa"))
        return
    version = f" {tool['version']}" if tool.get("version") else ""
    click.echo(f"  tool      {tool['name']}{version}  ({r['format']}, {r['metadata']})")
    render_params(r["params"], indent="  ")
    for m in r["models"]:
        extra = f" strength {m['strength']}" if m.get("strength") is not None else ""
        hashes = " ".join(f"{k}:{v}" for k, v in (m.get("hashes") or {}).items())
        click.echo(f"  model     {m['role']:<12} {m.get('name') or '?'}{extra}"
                   + (f"  [{hashes}]" if hashes else ""))
    for i in r["inputs"]:
        click.echo(f"  input     {i['role']:<12} {i.get('name') or '?'}")
    click.echo(f"  level     {r['level']}")
    for reason in r["reasons"]:
        click.echo(f"    - {reason}")
    for warning in r["warnings"]:
        click.echo(f"  warning   {warning}")
    _render_c2pa(r.get("c2pa"))


def _render_c2pa(c: dict[str, Any] | None) -> None:
    if c is None:
        return
    if c["state"] == "none":
        click.echo("  c2pa      no manifest")
        return
    verdict = "valid" if c["valid"] else "NOT valid"
    if c["changed_after_signing"]:
        verdict += ", the file was changed after signing"
    signer = ", ".join(str(v) for k, v in c["signer"].items() if k in ("common_name", "issuer"))
    click.echo(f"  c2pa      {verdict} ({c['state']}); signed by {signer or '?'}")
    for g in c["generator"]:
        click.echo(f"  generator {g}")
    for t in c["digital_source_type"]:
        click.echo(f"  source    {t.rsplit('/', 1)[-1]}")
    for i in c["ingredients"]:
        mark = " (has its own credentials)" if i["has_manifest"] else ""
        if "valid" in i:
            made = f", made by {', '.join(i['generator'])}" if i["generator"] else ""
            mark = (f" (its own credentials: {'valid' if i['valid'] else 'NOT valid'}, "
                    f"signed by {i['signer'] or '?'}{made})")
        click.echo(f"  from      {i['relationship']} {i['title']}{mark}")
    for p in c["problems"]:
        click.echo(f"  problem   {p}")
