""""Stealth pnginfo": metadata hidden in the least-significant bits of pixels.

Written by NovelAI, A1111/reForge extensions and SwarmUI. Bits are taken
column by column (x outer, y inner) from the alpha channel (``stealth_png*``)
or from R, G, B in turn (``stealth_rgb*``): a 15-byte magic, a 32-bit
big-endian count of payload *bits*, then the payload (gzip for ``*comp``).

This is the one reader that decodes pixels (through Pillow). Only the columns
that hold the bits needed are cropped out and transposed, so the cost is one
image decode plus work proportional to the payload.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image

from repro.capture.extracted import inflate_bounded
from repro.errors import LimitExceeded
from repro.imaging import ImageTooLarge, ImageUnreadable, open_image

#: Largest image (in pixels) whose pixels are decoded to look for stealth bits.
MAX_PIXELS = 24_000_000
#: Largest stealth payload, before and after gunzip.
MAX_PAYLOAD = 16 * 1024 * 1024

_MAGICS = {
    b"stealth_pnginfo": ("alpha", False),
    b"stealth_pngcomp": ("alpha", True),
    b"stealth_rgbinfo": ("rgb", False),
    b"stealth_rgbcomp": ("rgb", True),
}
_HEADER_BITS = 15 * 8 + 32
_LSB = bytes(0x30 + (i & 1) for i in range(256))  # byte -> ASCII "0"/"1" of its low bit



@dataclass
class Stealth:
    """A decoded stealth payload: which magic, and the payload bytes (gunzipped)."""

    magic: str
    payload: bytes


def read_stealth(stream: BinaryIO, warnings_out: list[str]) -> Stealth | None:
    """Look for a stealth payload in the pixels of a PNG/WebP stream.

    Returns None when there is none or the pixels cannot be decoded (with a
    warning in ``warnings_out`` in the latter case). Raises ``LimitExceeded``
    for a payload past ``MAX_PAYLOAD``.
    """
    stream.seek(0)
    try:
        with open_image(stream, max_pixels=MAX_PIXELS) as image:
            image.load()
            return _find(image)
    except ImageTooLarge as exc:
        warnings_out.append(f"stealth metadata not checked: {exc}")
    except ImageUnreadable as exc:
        warnings_out.append(f"stealth metadata not checked: pixels unreadable ({exc})")
    return None


def _find(image: Image.Image) -> Stealth | None:
    bands = image.getbands()
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
        bands = image.getbands()
    if "A" in bands:
        found = _decode(image.getchannel("A"), 1)
        if found is not None:
            return found
    if image.mode not in ("RGB", "RGBA"):
        if image.mode in ("1", "L", "LA", "I", "F", "I;16"):
            return None
        image = image.convert("RGB")
    elif image.mode == "RGBA":
        image = image.convert("RGB")  # drops alpha without touching R, G, B
    return _decode(image, 3)


def _bits(image: Image.Image, channels: int, nbits: int) -> str:
    """The first ``nbits`` LSBs in column-major order, as a string of '0'/'1'."""
    width, height = image.size
    columns = min(width, -(-nbits // (height * channels)))
    part = image.crop((0, 0, columns, height)).transpose(Image.Transpose.TRANSPOSE)
    return part.tobytes().translate(_LSB)[:nbits].decode("ascii")


def _decode(image: Image.Image, channels: int) -> Stealth | None:
    width, height = image.size
    capacity = width * height * channels
    if capacity < _HEADER_BITS:
        return None
    header = _bits(image, channels, _HEADER_BITS)
    magic = int(header[:120], 2).to_bytes(15, "big")
    kind = _MAGICS.get(magic)
    if kind is None or (kind[0] == "alpha") != (channels == 1):
        return None
    nbits = int(header[120:], 2)
    if nbits // 8 > MAX_PAYLOAD:
        raise LimitExceeded(f"stealth payload of {nbits // 8} bytes is over the limit")
    if _HEADER_BITS + nbits > capacity:
        return None
    nbytes = nbits // 8
    if nbytes == 0:
        return None
    bits = _bits(image, channels, _HEADER_BITS + nbytes * 8)[_HEADER_BITS:]
    payload = int(bits, 2).to_bytes(nbytes, "big")
    if kind[1]:
        payload = inflate_bounded(payload, MAX_PAYLOAD, "stealth payload", wbits=16 + zlib.MAX_WBITS)
    return Stealth(magic=magic.decode("ascii"), payload=payload)
