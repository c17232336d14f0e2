"""The one interface every remote implements (a folder, an S3 bucket).

A remote keeps bytes under keys. Content-addressed objects and packs are
created once (``put_if_absent``) and never change (an index segment merged into
another is deleted once no reader can still need it); small mutable objects (the
index head, tags) move only by compare-and-swap (``replace``): the caller names
the version it read, and the write is refused when someone else moved it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NewType, Protocol

from repro.errors import ConflictError

#: An opaque version token of a small mutable object (an ETag, a content hash).
Version = NewType("Version", str)


class CasConflict(ConflictError):
    """A compare-and-swap lost: the object moved since it was read."""

    hint = "someone else changed it meanwhile: pull, then try again"


@dataclass(frozen=True)
class Unfinished:
    """An upload a push started and did not finish: an S3 multipart upload (resumable:
    the next push of the same key reuses it), a folder remote's temp file (not)."""

    key: str
    #: the S3 upload id; the temp file's name on a folder remote
    upload: str
    #: bytes the remote holds for it
    size: int
    #: seconds since anything arrived for it (its last part, its creation)
    idle: float


class Remote(Protocol):
    """What push, pull and clone need from a remote."""

    #: How compare-and-swap is done here, in words (``repro remote list`` says it).
    cas_method: str

    def exists(self, key: str) -> bool: ...

    def get(self, key: str) -> bytes:
        """The bytes under ``key``; ``NotFound`` when there are none."""
        ...

    def get_file(self, key: str, dest: Path, *, start: int = 0) -> None:
        """Stream a (large) object into the file ``dest``; from byte ``start`` on,
        appended, when ``dest`` holds the first ``start`` bytes already (a stopped
        pull continued)."""
        ...

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Create ``key``; False (and nothing written) when it exists already."""
        ...

    def put_file(self, key: str, src: Path) -> int:
        """Upload a (large) immutable file to ``key`` (multipart where the remote has it);
        a half-sent file is never visible under ``key``. Returns the bytes sent: 0 when
        ``key`` exists, less than the file when a stopped upload was resumed."""
        ...

    def read_versioned(self, key: str) -> tuple[bytes, Version] | None:
        """A small mutable object and its version, or None when there is none."""
        ...

    def replace(self, key: str, data: bytes, expected: Version | None) -> Version:
        """Write ``key`` if its version is still ``expected`` (None: if it is absent);
        raise ``CasConflict`` otherwise. Returns the new version."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key`` (nothing when it is not there). Only for what nothing names
        any more: index segments merged away (``repro.remote.index``)."""
        ...

    def unfinished(self) -> list[Unfinished]:
        """The uploads under this remote that were started and not finished."""
        ...

    def abort(self, upload: Unfinished) -> None:
        """Drop an unfinished upload and the space it holds (nothing when it is gone)."""
        ...
