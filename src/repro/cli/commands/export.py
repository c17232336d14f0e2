"""``repro export``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from repro.cli.options import State, json_option, target_record
from repro.cli.render import emit_json
from repro.errors import UsageError


@click.command()
@click.argument("target")
@click.option("--format", "format_", type=click.Choice(["api", "workflow", "a1111", "c2pa"]),
              required=True, help="api: the executed prompt (ComfyUI API JSON); workflow: "
                                  "the editor workflow; a1111: an infotext; c2pa: a signed "
                                  "copy of the output (needs -o).")
@click.option("-o", "output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to FILE instead of stdout.")
@click.option("--cert", type=click.Path(dir_okay=False, path_type=Path),
              help="c2pa: the signing certificate chain, PEM (default: config c2pa.cert).")
@click.option("--key", type=click.Path(dir_okay=False, path_type=Path),
              help="c2pa: the certificate's private key, PEM (default: config c2pa.key).")
@click.option("--recipe", is_flag=True,
              help="c2pa: also put the parameters and prompt in the credential.")
@json_option
@click.pass_obj
def export(state: State, target: str, format_: str, output: Path | None, cert: Path | None,
           key: Path | None, recipe: bool, as_json: bool) -> None:
    """TARGET's recipe in a tool's own form.

    api: the executed prompt as the server ran it (POST /prompt takes it as
    "prompt"); workflow: the UI workflow to drag back into ComfyUI; a1111: an
    AUTOMATIC1111 infotext, where the record allows one; c2pa: a copy of the
    output with a signed C2PA manifest (made from the record: generator, model
    versions, parent and inputs as ingredients) and the IPTC digital source type.

    \b
    Example:
      repro export client-final --format api -o client-final.api.json
      repro export client-final --format a1111
      repro export client-final --format c2pa -o delivery/final.png --cert chain.pem --key key.pem
    """
    from repro.api.export import export as run

    repo = state.repo()
    record = target_record(state, repo, target)
    if format_ == "c2pa":
        from repro.api.credentials import export_c2pa

        if output is None:
            raise UsageError("--format c2pa writes a new file: give -o FILE")
        signed = export_c2pa(repo, record, output=state.cwd / output, cert=state.here(cert),
                             key=state.here(key), recipe=recipe)
        if as_json:
            emit_json(signed.to_dict())
        else:
            click.echo(f"wrote {output} (signed, {len(signed.ingredients)} ingredient(s))",
                       err=True)
        return
    result = run(repo, record, format=format_, output=state.here(output))
    if as_json:
        emit_json(result.to_dict())
    elif output is None:
        sys.stdout.buffer.write(result.data.rstrip(b"\n") + b"\n")
        sys.stdout.flush()
    else:
        click.echo(f"wrote {output}", err=True)
