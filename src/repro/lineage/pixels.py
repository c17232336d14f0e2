"""A1111's ``Init image hash``: the MD5 of the decoded pixels of the img2img source.

AUTOMATIC1111 writes ``Init image hash`` (when ``save_init_img`` is on) as
``md5(image.tobytes())`` of the PIL image it was given, not a hash of the
file: a parent is found by decoding candidate outputs the same way. Decoding
is bounded (file size, pixel count) and only done when such a hash waits.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import BinaryIO

MAX_SOURCE_BYTES = 64 * 1024 * 1024
MAX_PIXELS = 40_000_000


def is_pixels_md5(value: str | None) -> bool:
    """A recorded input hash that can only be A1111's pixel MD5 (32 hex)."""
    return isinstance(value, str) and len(value) == 32 and all(
        c in "0123456789abcdef" for c in value.lower())


def pixels_md5(source: bytes | Path | BinaryIO) -> str | None:
    """``md5(Image.open(source).tobytes())`` as A1111 computes it, or None when
    the source (bytes, a path or an open file) is not a decodable image within bounds."""
    from repro.imaging import ImageUnreadable, open_image

    try:
        if isinstance(source, Path):
            if source.stat().st_size > MAX_SOURCE_BYTES:
                return None
            stream: io.BytesIO | Path | BinaryIO = source
        elif not isinstance(source, bytes):
            # Measured by seeking: an object the store holds in a pack opens as a
            # file in memory, with no descriptor to stat.
            at = source.tell()
            size = source.seek(0, os.SEEK_END)
            source.seek(at)
            if size > MAX_SOURCE_BYTES:
                return None
            stream = source
        else:
            if len(source) > MAX_SOURCE_BYTES:
                return None
            stream = io.BytesIO(source)
        with open_image(stream, max_pixels=MAX_PIXELS) as im:
            return hashlib.md5(im.tobytes(), usedforsecurity=False).hexdigest()
    except (OSError, ImageUnreadable):
        return None
