"""Pillow on untrusted images, bounded: one place that knows how it fails.

Pillow raises many exception types on corrupt pixel data (``OSError``,
``SyntaxError``, ``EOFError``, ``struct.error``...), and warns rather than
refuses on a decompression bomb. ``open_image`` turns all of that, and a
pixel count over the caller's cap, into ``ImageUnreadable``, for the
``with`` body too: decoding happens there.
"""

from __future__ import annotations

import contextlib
import os
import struct
import warnings
import zlib
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from PIL import Image


class ImageUnreadable(Exception):
    """The pixels cannot be decoded within bounds; the message says why."""


class ImageTooLarge(ImageUnreadable):
    def __init__(self, width: int, height: int, max_pixels: int):
        super().__init__(f"image of {width}x{height} is over {max_pixels} pixels")
        self.width, self.height = width, height


_PNG = b"\x89PNG\r\n\x1a\n"


def _open(source: Path | IO[bytes], max_pixels: int) -> Image.Image:
    """``Image.open``, but a PNG stream by the PNG reader alone: ``Image.open``
    without a file name first imports five format readers (JPEG's with
    ``subprocess``: 3.7 ms of every ``add``). Only where ``max_pixels`` refuses a
    bomb before ``Image.open``'s own limit would."""
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    if (not isinstance(source, str | os.PathLike) and source.seekable()
            and (limit is None or max_pixels <= limit)):
        source.seek(0)  # as Image.open reads it: from the start
        head = source.read(len(_PNG))
        source.seek(0)
        if head == _PNG:
            from PIL import PngImagePlugin

            return PngImagePlugin.PngImageFile(source)
    return Image.open(source)


@contextlib.contextmanager
def open_image(source: Path | IO[bytes], *, max_pixels: int) -> Iterator[Image.Image]:
    """``Image.open(source)`` with bombs refused and at most ``max_pixels`` pixels."""
    from PIL import Image

    errors = (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError,
              struct.error, zlib.error, Image.DecompressionBombError,
              Image.DecompressionBombWarning)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with _open(source, max_pixels) as image:
                if image.width * image.height > max_pixels:
                    raise ImageTooLarge(image.width, image.height, max_pixels)
                yield image
    except errors as exc:
        raise ImageUnreadable(str(exc)) from None
