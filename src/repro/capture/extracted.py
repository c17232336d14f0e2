"""What the container walkers share: the bounds on untrusted metadata, the
``Extracted`` payloads they fill, bounded reads and inflation, EXIF intake."""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO

from repro.capture.exif import Exif, parse_tiff
from repro.errors import InputError, LimitExceeded
from repro.record.values import field, value_class

#: Largest metadata chunk/segment payload read from a file.
MAX_CHUNK = 32 * 1024 * 1024
#: Largest inflated size of one compressed text chunk.
MAX_INFLATE = 16 * 1024 * 1024
#: Largest sum of metadata payloads kept from one file.
MAX_TOTAL = 64 * 1024 * 1024
#: Most chunks/segments walked in one file.
MAX_PARTS = 200_000



@value_class
class Extracted:
    """What the containers of one file hold, before any generator is recognised.

    ``texts`` are PNG text chunks (and ``comf`` entries) by keyword, decoded;
    ``blobs`` every raw payload by key, verbatim (decompressed);
    ``exif``/``xmp``/``comment``/``jumbf`` the other carriers.
    """

    media_type: str
    width: int | None = None
    height: int | None = None
    texts: dict[str, str] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    exif: Exif | None = None
    xmp: str | None = None
    comment: str | None = None
    jumbf: bytes | None = None
    warnings: list[str] = field(default_factory=list)
    #: Payloads whose checksum failed (read anyway; a generation from them is not full).
    damaged: list[str] = field(default_factory=list)
    _total: int = 0

    def has_metadata(self) -> bool:
        """True once any payload that may carry generation metadata was found."""
        return bool(self.texts or self.exif or self.xmp or self.comment or self.jumbf)

    def account(self, n: int) -> None:
        self._total += n
        if self._total > MAX_TOTAL:
            raise LimitExceeded(f"metadata adds up to more than {MAX_TOTAL} bytes")


class Truncated(Exception):
    """Internal: the container ended mid-structure."""


def read_part(stream: BinaryIO, n: int, what: str) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise Truncated(f"{what} ends early")
    return data


def inflate_into(data: bytes, what: str, out: Extracted) -> bytes | None:
    """``inflate_bounded`` to ``MAX_INFLATE``, counted; None (with a warning) for corrupt data."""
    try:
        result = inflate_bounded(data, MAX_INFLATE, what)
    except LimitExceeded:
        raise
    except InputError as exc:
        out.warnings.append(str(exc))
        return None
    out.account(len(result))
    return result


def inflate_bounded(data: bytes, limit: int, what: str, wbits: int = zlib.MAX_WBITS) -> bytes:
    """Inflate at most ``limit`` bytes; ``LimitExceeded`` beyond, ``InputError`` if corrupt."""
    inflater = zlib.decompressobj(wbits)
    try:
        result = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise InputError(f"{what}: compressed data is corrupt ({exc})") from None
    if len(result) > limit:
        raise LimitExceeded(f"{what}: inflates past {limit} bytes")
    return result


def take_exif(data: bytes, out: Extracted, where: str) -> None:
    try:
        exif = parse_tiff(data)
    except InputError as exc:
        out.warnings.append(f"{where}: EXIF is unreadable ({exc})")
        return
    except struct.error:
        out.warnings.append(f"{where}: EXIF is truncated")
        return
    if out.exif is None:
        out.exif = exif
        out.blobs.setdefault("exif_tiff", data)
