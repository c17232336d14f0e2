"""``repro tag``: list, set, move (only when asked) and delete tags.

A tag is a name for a record (``refs/tags/NAME``). Moving a tag that names
another record is refused unless ``force`` says so, as git does: a tag like
``client-final`` is a promise that should not change without a word.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repro.api.repository import Repository
from repro.errors import ConflictError, NotFound
from repro.lineage.refs import check_tag_name


@dataclass(frozen=True)
class Tag:
    name: str
    id: str
    #: the record the tag named before it was moved or deleted
    was: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {"name": self.name, "id": self.id}
        if self.was is not None:
            d["was"] = self.was
        return d


def list_tags(repo: Repository) -> list[Tag]:
    return [Tag(name, rid) for name, rid in repo.refs.tags()]


def check_free(repo: Repository, name: str, record_id: str | None = None) -> None:
    """Refuse a tag name that already names another record (before any work is done)."""
    check_tag_name(name)
    current = repo.refs.get_tag(name)
    if current is not None and current != record_id:
        raise ConflictError(f"tag {name!r} already names record {current[:12]}",
                            hint=f"move it on purpose: repro tag -f {name} TARGET")


def set_tag(repo: Repository, name: str, target: str, *, force: bool = False,
            cwd: Path | None = None) -> Tag:
    """Name the record ``target`` resolves to; moving an existing tag needs ``force``."""
    record = repo.resolve_target(target, cwd=cwd)
    with repo.lock():
        was = repo.refs.get_tag(name)
        if not force:
            check_free(repo, name, record.id)
        repo.refs.set_tag(name, record.id)
    return Tag(name, record.id, was if was != record.id else None)


def delete_tag(repo: Repository, name: str) -> Tag:
    with repo.lock():
        current = repo.refs.get_tag(name)
        if current is None:
            raise NotFound(f"no tag named {name!r}", hint="repro tag lists the tags")
        repo.refs.delete_tag(name)
    return Tag(name, current, current)


def tags_of(repo: Repository, record_id: str) -> list[str]:
    """The names of the tags naming a record."""
    return [name for name, rid in repo.refs.tags() if rid == record_id]
