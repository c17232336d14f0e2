"""Refs: ``refs/tags/NAME`` files holding a record id."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from repro.errors import UsageError
from repro.objects.atomic import write_bytes
from repro.objects.ids import check_id

_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_tag_name(name: str) -> str:
    if not _TAG.fullmatch(name) or name.endswith(".lock"):
        raise UsageError(f"invalid tag name {name!r}",
                         hint="use letters, digits, '.', '_' and '-' (at most 100)")
    return name


class Refs:
    def __init__(self, refs_dir: Path, tmp_dir: Path):
        self.tags_dir = refs_dir / "tags"
        self.tmp_dir = tmp_dir

    def set_tag(self, name: str, record_id: str) -> None:
        check_tag_name(name)
        self.tags_dir.mkdir(parents=True, exist_ok=True)
        write_bytes(self.tags_dir / name, (check_id(record_id) + "\n").encode(),
                    tmp_dir=self.tmp_dir)

    def delete_tag(self, name: str) -> None:
        check_tag_name(name)
        (self.tags_dir / name).unlink(missing_ok=True)

    def get_tag(self, name: str) -> str | None:
        if not _TAG.fullmatch(name):
            return None
        try:
            value = (self.tags_dir / name).read_text().strip()
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            return check_id(value)
        except ValueError:
            return None

    def tags(self) -> Iterator[tuple[str, str]]:
        if not self.tags_dir.is_dir():
            return
        for p in sorted(self.tags_dir.iterdir()):
            value = self.get_tag(p.name)
            if value:
                yield p.name, value
