"""Refs: ``refs/tags/NAME`` files holding a record id."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from repro.errors import IntegrityError, UsageError
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
        """The record id a tag names; None when there is no such tag, and
        ``IntegrityError`` when its file holds anything but a record id."""
        if not _TAG.fullmatch(name):
            return None
        try:
            data = (self.tags_dir / name).read_bytes()[:200]
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise IntegrityError(f"tag {name} cannot be read ({exc.strerror or exc})",
                                 hint=f"delete {self.tags_dir / name} or set the tag again"
                                 ) from None
        try:
            return check_id(data.decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            raise IntegrityError(f"tag {name} does not hold a record id "
                                 f"({self.tags_dir / name} holds {data[:40]!r})",
                                 hint=f"delete {self.tags_dir / name} or set the tag again"
                                 ) from None

    def tags(self) -> Iterator[tuple[str, str]]:
        """(name, record id) of every readable tag (``damaged`` lists the others)."""
        for name, value in self._scan():
            if isinstance(value, str):
                yield name, value

    def damaged(self) -> Iterator[IntegrityError]:
        """What is wrong with each tag file that does not hold a record id."""
        for _, value in self._scan():
            if isinstance(value, IntegrityError):
                yield value

    def _scan(self) -> Iterator[tuple[str, str | IntegrityError]]:
        if not self.tags_dir.is_dir():
            return
        for p in sorted(self.tags_dir.iterdir()):
            try:
                value = self.get_tag(p.name)
            except IntegrityError as exc:
                yield p.name, exc
                continue
            if value:
                yield p.name, value
