"""``repro remote``: add, list and remove remotes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from repro.cli.options import State, json_option
from repro.cli.render import emit_json

if TYPE_CHECKING:
    from repro.remote.check import IndexCheck


@click.group()
def remote() -> None:
    """Name remotes: an S3-compatible bucket (s3://bucket/prefix) or a folder (a NAS share).

    Credentials are never stored: boto3 reads them from AWS_ACCESS_KEY_ID /
    AWS_SECRET_ACCESS_KEY, AWS_PROFILE or ~/.aws; AWS_ENDPOINT_URL is honoured.

    \b
    Example:
      repro remote add studio s3://renders/repro --endpoint http://nas:8333
      repro remote add nas /mnt/nas/repro
      repro remote list
    """


@remote.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--endpoint", help="S3 endpoint URL (else AWS_ENDPOINT_URL or AWS).")
@click.option("--region", help="S3 region.")
@click.option("--lock-object", is_flag=True,
              help="Move the index HEAD and tags under a lock object instead of conditional "
                   "writes: for an S3 engine that ignores If-Match (best effort).")
@json_option
@click.pass_obj
def add(state: State, name: str, url: str, endpoint: str | None, region: str | None,
        lock_object: bool, as_json: bool) -> None:
    """Add the remote NAME at URL (s3://bucket/prefix, file:///path or a folder).

    \b
    Example:
      repro remote add origin s3://renders/team-a --endpoint http://127.0.0.1:8333
    """
    from repro.api.remote import add_remote

    spec = add_remote(state.repo(), name, url, endpoint=endpoint, region=region,
                      lock_object=lock_object)
    if as_json:
        emit_json(spec.to_dict())
    else:
        click.echo(f"added remote {spec.name} -> {spec.url}")


@remote.command("list")
@json_option
@click.pass_obj
def list_(state: State, as_json: bool) -> None:
    """List the remotes.

    \b
    Example:
      repro remote list --json
    """
    from repro.api.remote import list_remotes

    specs = list_remotes(state.repo())
    if as_json:
        emit_json([s.to_dict() for s in specs])
        return
    for s in specs:
        extra = "".join(f" {k}={v}" for k, v in (("endpoint", s.endpoint), ("region", s.region))
                        if v)
        click.echo(f"{s.name}\t{s.url}{extra}")


@remote.command("remove")
@click.argument("name")
@json_option
@click.pass_obj
def remove(state: State, name: str, as_json: bool) -> None:
    """Forget the remote NAME (nothing on the remote is touched).

    \b
    Example:
      repro remote remove nas
    """
    from repro.api.remote import remove_remote

    spec = remove_remote(state.repo(), name)
    if as_json:
        emit_json(spec.to_dict())
    else:
        click.echo(f"removed remote {spec.name}")


@remote.command("check")
@click.argument("name", required=False)
@click.option("--repair", is_flag=True,
              help="Write a new index HEAD without what cannot be used (no object is "
                   "deleted), and abort the stale unfinished uploads.")
@click.option("--stale-hours", type=click.FloatRange(min=0), default=24.0, show_default=True,
              help="An unfinished upload nothing arrived for in this long is stale (so is "
                   "one whose object was sent whole since).")
@json_option
@click.pass_obj
def check(state: State, name: str | None, repair: bool, stale_hours: float,
          as_json: bool) -> None:
    """Check the remote's index against the remote: every segment against its hash,
    every pack and large object it names present; list the uploads pushes started
    and did not finish. Exit status 1 when something is wrong and was not repaired.

    \b
    Example:
      repro remote check origin
      repro remote check origin --repair
    """
    from repro.api.remote import check_remote

    found = check_remote(state.repo(), name, repair=repair, stale_after=stale_hours * 3600)
    if as_json:
        emit_json(found.to_dict())
    else:
        click.echo(f"{found.segments} segments, {found.records} records, {found.keys} packs "
                   "and large objects checked")
        for seg, why in sorted(found.damaged.items()):
            click.echo(f"damaged: {why}" if seg in why else f"damaged: {seg}: {why}")
        for seg, keys in sorted(found.missing.items()):
            for key in keys:
                click.echo(f"missing: {key} (listed by segment {seg[:12]})")
        if found.repaired:
            click.echo(f"repaired: a new index HEAD without them ({found.dropped_records} "
                       "records dropped from the index; a push from a store that has them "
                       "lists them again)")
        _echo_uploads(found, stale_hours)
        if (not found.ok and not found.repaired) or (found.stale and not found.aborted):
            click.echo(f"hint: repro remote check {name or ''} --repair".replace("  ", " "))
    if not found.ok and not found.repaired:
        raise click.exceptions.Exit(1)


def _echo_uploads(found: IndexCheck, stale_hours: float) -> None:
    stale = f"idle over {stale_hours:g} h or their object sent whole since"
    if found.aborted:
        click.echo(f"aborted {len(found.aborted)} unfinished uploads {stale} "
                   f"({sum(u.size for u in found.aborted) / 1e6:.1f} MB freed)")
    elif found.uploads:
        click.echo(f"{len(found.uploads)} unfinished uploads "
                   f"({sum(u.size for u in found.uploads) / 1e6:.1f} MB), {len(found.stale)} "
                   f"stale: {stale}")
