"""``repro push``, ``repro pull`` and ``repro clone``: share a store through a remote."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repro.api.pulled_mark import mark_what_the_remote_has
from repro.api.remote import (
    add_remote,
    get_remote,
    index_path,
    named_remote,
    open_remote,
    remote_spec,
    save_seen_tags,
    seen_tags,
)
from repro.api.repository import Repository
from repro.lineage import numbering
from repro.remote import fetch, transfer
from repro.remote import index as rindex
from repro.remote import tags as rtags
from repro.remote.base import Remote


@dataclass
class Synced:
    """What a push, pull or clone did."""

    remote: str
    transfer: transfer.Transfer
    tags: list[dict[str, Any]] = field(default_factory=list)
    root: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {"remote": self.remote, **self.transfer.to_dict(), "tags": self.tags}
        if self.root is not None:
            d["root"] = str(self.root)
        return d


def push(repo: Repository, name: str | None = None, targets: list[str] | None = None, *,
         all: bool = False, models: bool = True, force_tags: bool = False,
         cwd: Path | None = None) -> Synced:
    """Send the records of ``targets`` (without: the records not pushed yet; with
    ``all``: every record), what they name, and the local tags naming them; tags move
    on the remote only by compare-and-swap."""
    spec = get_remote(repo, name)
    remote = open_remote(spec)
    tagged = dict(repo.refs.tags())
    ids: list[str] | None = None
    if targets and not all:
        chosen = [repo.resolve_target(t, cwd=cwd).id for t in targets]
        local_tags = {t: rid for t, rid in tagged.items() if rid in set(chosen)}
        ids = chosen
    else:  # every record indexed here is on the remote once this push is done
        indexed = repo.index.summaries(tagged.values())
        local_tags = {t: rid for t, rid in tagged.items() if rid in indexed}
    with named_remote(spec.name):
        index = rindex.sync(remote, index_path(repo, spec.name))
        try:
            if ids is not None:
                moved = _send(repo, remote, index, ids, models=models, tags=set(local_tags),
                              heal_thumbs=True)
            else:
                moved = _send_unpushed(repo, remote, index, models=models, every=all,
                                       tags=set(local_tags))
        finally:
            index.close()
    seen = seen_tags(repo, spec.name)
    tag_moves = []
    for tag, rid in sorted(local_tags.items()):
        done = rtags.push_tag(remote, tag, rid, seen.get(tag), force=force_tags)
        seen[tag] = rid
        save_seen_tags(repo, spec.name, seen)
        if done is not None:
            tag_moves.append({"name": tag, "id": rid, "was": done.was})
    return Synced(spec.name, moved, tag_moves)


def _send_unpushed(repo: Repository, remote: Remote, index: rindex.RemoteIndex, *,
                   models: bool, every: bool, tags: set[str]) -> transfer.Transfer:
    """Push the records indexed since the last push to this remote (``every``: all of
    them, and the thumbnails the remote lacks for those it has).

    The remote's local index keeps the local record number up to which every record
    is on the remote: the records after it are found by one indexed query, so the
    push reads O(new), not O(store). A mark of another numbering (the local index
    was rebuilt) says nothing; a remote whose log was replaced or repaired has its
    cache, and the mark, reset: both are walked whole again. A remote others pushed
    to meanwhile only gained records, so the mark still holds."""
    marked, since = (None, 0) if every else index.cache.pushed_mark(models=models)
    epoch, last, numbered = numbering.numbers_after_mark(repo.index.conn, marked, since)
    moved = _send(repo, remote, index, [rid for _, rid in numbered], models=models, tags=tags,
                  heal_thumbs=every)
    index.cache.mark_pushed(numbering.claim(repo.index.conn, epoch), last, models=models)
    return moved


def _send(repo: Repository, remote: Remote, index: rindex.RemoteIndex, ids: list[str], *,
          models: bool, tags: set[str], heal_thumbs: bool) -> transfer.Transfer:
    # with heal_thumbs: records the remote may have, pushed before their thumbnails were
    outputs = _outputs_of(repo, ids) if heal_thumbs else iter(())
    return transfer.push(repo.store, remote, index, ids, models=models, tags=tags,
                         thumbs=repo.thumbs, outputs=outputs)


def _outputs_of(repo: Repository, ids: list[str]) -> Iterator[str]:
    """The records' outputs, read from the index a chunk at a time (``--all`` of a
    million records holds no million-entry map)."""
    for start in range(0, len(ids), _OUTPUTS_AT_ONCE):
        for summary in repo.index.summaries(ids[start:start + _OUTPUTS_AT_ONCE]).values():
            yield summary["output"]


_OUTPUTS_AT_ONCE = 10_000


def pull(repo: Repository, name: str | None = None, targets: list[str] | None = None, *,
         models: bool = True, remote: Remote | None = None) -> Synced:
    """Fetch records (``targets``: ids, prefixes or remote tag names; else every record
    the remote has) with what they name, each object checked against its hash; index
    them. ``remote``: the remote ``name`` already opened (by ``clone``)."""
    spec = get_remote(repo, name)
    remote = remote or open_remote(spec)
    with named_remote(spec.name):
        index = rindex.sync(remote, index_path(repo, spec.name))
        try:
            return _pull(repo, spec.name, remote, index, targets, models=models)
        finally:
            index.close()


def _pull(repo: Repository, name: str, remote: Remote, index: rindex.RemoteIndex,
          targets: list[str] | None, *, models: bool) -> Synced:
    remote_tags = {t: rtags.read_tag(remote, t) for t in index.cache.tags()}
    ids: list[str] | None = None
    if targets:
        ids = []
        plain = []
        for t in targets:
            if remote_tags.get(t):
                ids.append(str(remote_tags[t]))
            else:
                plain.append(t)
        ids += fetch.resolve_remote(index, plain)
    with repo.lock():
        moved, records = fetch.pull(repo.store, remote, ids, index=index, models=models,
                                    thumbs=repo.thumbs)
        if records:
            repo.index.add_many(records)
        # the records pulled are on the remote: the next push need not walk them
        mark_what_the_remote_has(repo, index.cache)
        seen = seen_tags(repo, name)
        tag_moves = []
        for tag, rid in remote_tags.items():
            if rid is None or rid not in repo.store:
                continue
            seen[tag] = rid
            if repo.refs.get_tag(tag) is None:
                repo.refs.set_tag(tag, rid)
                tag_moves.append({"name": tag, "id": rid, "was": None})
        save_seen_tags(repo, name, seen)
    return Synced(name, moved, tag_moves)


def clone(url: str, dest: Path, *, endpoint: str | None = None, region: str | None = None,
          models: bool = True) -> Synced:
    """A new repository in ``dest`` with the remote ``origin`` at ``url``, pulled whole.

    The remote is asked first: one that is not there (a folder not mounted, a wrong
    bucket or key) leaves no empty repository behind to block the next try.
    """
    remote = open_remote(remote_spec("origin", url, endpoint=endpoint, region=region))
    remote.read_versioned(rindex.HEAD)
    repo = Repository.init(dest)
    # the index made now, on the empty store: opened first after the pull, it would be
    # rebuilt from every pulled record before the pull adds them all again
    repo.rebuild_index()
    add_remote(repo, "origin", url, endpoint=endpoint, region=region)
    done = pull(repo, "origin", models=models, remote=remote)  # one client, not two
    done.root = repo.root
    return done

