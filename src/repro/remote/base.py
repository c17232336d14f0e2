"""The one interface every remote implements (a folder, an S3 bucket).

A remote keeps bytes under keys. Content-addressed objects and packs are
created once (``put_if_absent``) and never change (an index segment merged into
another is deleted once no reader can still need it); small mutable objects (the
index head, tags) move only by compare-and-swap (``replace``): the caller names
the version it read, and the write is refused when someone else moved it.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
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


class Readable(Protocol):
    """A stream of bytes (an open file, an HTTP response body)."""

    def read(self, size: int = -1, /) -> bytes: ...


class Remote(Protocol):
    """What push, pull and clone need from a remote."""

    #: How compare-and-swap is done here, in words (``repro remote list`` says it).
    cas_method: str

    def exists(self, key: str) -> bool: ...

    def get(self, key: str) -> bytes:
        """The bytes under ``key``; ``NotFound`` when there are none."""
        ...

    def stream(self, key: str, start: int = 0, end: int | None = None
               ) -> AbstractContextManager[Readable]:
        """The bytes under ``key`` from ``start`` on, to be read in order a piece at a
        time (a pack: never all of it in memory) and no further than ``end`` (None: the
        end), where a remote may stop sending; ``NotFound`` when there are none."""
        ...

    def get_file(self, key: str, dest: Path, size: int) -> int:
        """Bring the file ``dest`` to the ``size`` bytes of the (large) object ``key``,
        continuing what an earlier call that stopped left there (each remote knows how
        it wrote it: a folder appends, S3 notes the ranges it finished beside ``dest``).
        Returns the bytes fetched by this call."""
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
