"""What an image looks like, as numbers that survive re-encoding: a pixel hash and
a perceptual fingerprint.

``pixel_hash`` is the BLAKE3 of the decoded pixels (RGB, or RGBA when some pixel
is not opaque) with the size: the same pixels in another container (PNG saved
again without metadata, lossless WebP) have the same one.

``fingerprint`` is a 64-bit DCT hash (pHash): the image made grayscale and
32x32, its 8x8 lowest frequencies, one bit a coefficient (above the median or
not, the DC term left out; ``lineage.dct``, in integers, with the bits of the
float code that made every stored one). JPEG at quality 70, halving the size and
cutting 5% off the edges move few bits (docs/benchmarks.md,
``bench/bench_identify.py``); unrelated images differ in about half of them.
Decoding is kept small: a JPEG is decoded at 1/8 of its size with Pillow's
``draft``.

A crop moves the picture under the DCT's grid, which moves many bits; the query
side (``query_prints``) undoes it by guessing: the copy is put back on a canvas
as large as the original would have been, cut by 5% on a side (the border a
stretched copy of the query), and hashed for each guess.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO, TYPE_CHECKING, NamedTuple

from repro.lineage.dct import SIDE, fingerprint_bits
from repro.objects.hashing import new_hasher

if TYPE_CHECKING:
    from PIL import Image

#: Images larger than this (bytes, pixels) get no fingerprint.
MAX_SOURCE_BYTES = 64 * 1024 * 1024
MAX_PIXELS = 40_000_000


def hamming(a: int, b: int) -> int:
    """Bits that differ between two 64-bit fingerprints."""
    return (a ^ b).bit_count()


def near_parts(fingerprint: int, bits: int) -> list[list[int]]:
    """For each 16-bit part of a fingerprint (highest first), every value at most
    ``bits`` bits from it. Two fingerprints within ``4 * bits + 3`` bits share a
    part within ``bits`` bits (pigeonhole), so probing these finds every one."""
    from itertools import combinations

    out = []
    for shift in (48, 32, 16, 0):
        part = (fingerprint >> shift) & 0xFFFF
        values = [part]
        for n in range(1, bits + 1):
            for flips in combinations(range(16), n):
                values.append(part ^ sum(1 << f for f in flips))
        out.append(values)
    return out


def to_signed(value: int) -> int:
    """An unsigned 64-bit fingerprint as SQLite stores integers (signed)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def to_unsigned(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


class Looks(NamedTuple):
    """What one decode of an output gives: its pixel hash (None for a JPEG, decoded
    reduced), its fingerprint and its thumbnail (``lineage.thumbnails``)."""

    pixel_hash: str | None
    fingerprint: int
    thumbnail: bytes


def looks_of(data: bytes) -> Looks | None:
    """The pixel hash, fingerprint and thumbnail of an image's bytes from one decode,
    or None when they are not a decodable image within bounds. The fingerprint and
    the thumbnail are both made from the image box-averaged down once (``_reduced``);
    a JPEG is decoded at that size directly, as ``prints_of`` does."""
    from repro.imaging import ImageUnreadable, open_image
    from repro.lineage.thumbnails import encode

    if len(data) > MAX_SOURCE_BYTES:
        return None
    try:
        with open_image(io.BytesIO(data), max_pixels=MAX_PIXELS) as im:
            digest = None
            if im.format == "JPEG":
                im.draft("RGB", (SIDE * 4, SIDE * 4))
            else:
                digest = _pixel_digest(im)
            small = _reduced(im)
            return Looks(digest, _phash(small), encode(small))
    except (OSError, ImageUnreadable):
        return None


def prints_of(source: bytes | Path | IO[bytes], *, full: bool = False
              ) -> tuple[str | None, int] | None:
    """``(pixel hash, fingerprint)`` of an image (bytes, a path or an open file), or
    None when it is not a decodable image within bounds. A JPEG is decoded reduced
    unless ``full`` asks for its pixels (its full decode would cost more than the
    rest of its capture); its pixel hash is then None."""
    from repro.imaging import ImageUnreadable, open_image

    if isinstance(source, bytes):
        if len(source) > MAX_SOURCE_BYTES:
            return None
        source = io.BytesIO(source)
    try:
        with open_image(source, max_pixels=MAX_PIXELS) as im:
            digest = None
            if im.format == "JPEG" and not full:
                im.draft("L", (SIDE * 4, SIDE * 4))
            else:
                digest = _pixel_digest(im)
            return digest, _phash(im)
    except (OSError, ImageUnreadable):
        return None


#: Guessed crops, as the fraction cut off (left or top, right or bottom) on each axis.
CROPS = ((0.0, 0.0), (0.05, 0.0), (0.0, 0.05))


def query_prints(source: bytes | Path | IO[bytes]) -> tuple[str | None, list[int]] | None:
    """The pixel hash of a copy to identify and its fingerprints: as it is first, then
    as the original would be under each guessed crop (``CROPS`` on both axes)."""
    from PIL import Image

    from repro.imaging import ImageUnreadable, open_image

    if isinstance(source, bytes):
        source = io.BytesIO(source)
    try:
        with open_image(source, max_pixels=MAX_PIXELS) as im:
            digest = None
            if im.format == "JPEG":
                # Decoded reduced, as at capture: JPEG outputs have no pixel hash,
                # and a JPEG stripped of its metadata has the same fingerprint.
                im.draft("RGB", (SIDE * 8, SIDE * 8))
            else:
                digest = _pixel_digest(im)
            work = im.convert("RGBA" if im.mode in ("RGBA", "LA", "PA", "P") else "RGB")
    except (OSError, ImageUnreadable):
        return None
    # Hash at a modest size: the guesses only need the low frequencies.
    if min(work.size) > SIDE * 8:
        scale = SIDE * 8 / min(work.size)
        work = work.resize((max(1, round(work.width * scale)), max(1, round(work.height * scale))),
                           Image.Resampling.BOX)
    prints = []
    for left, right in CROPS:
        for top, bottom in CROPS:
            width = round(work.width / (1 - left - right))
            height = round(work.height / (1 - top - bottom))
            canvas = work.resize((width, height), Image.Resampling.BOX)
            canvas.paste(work, (round(width * left), round(height * top)))
            prints.append(_phash(canvas))
    return digest, prints


def _pixel_digest(im: object) -> str:
    from PIL import Image

    assert isinstance(im, Image.Image)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        low, _ = rgba.getchannel("A").getextrema()
        if isinstance(low, int | float) and low < 255:
            return _digest(rgba)
    return _digest(im if im.mode == "RGB" else im.convert("RGB"))


def _digest(im: object) -> str:
    from PIL import Image

    assert isinstance(im, Image.Image)
    hasher = new_hasher()
    hasher.update(f"{im.mode} {im.width}x{im.height}\n".encode())
    hasher.update(im.tobytes())
    return str(hasher.hexdigest())


def _reduced(im: Image.Image) -> Image.Image:
    """The image box-averaged down by an integer factor to at least ``SIDE * 4`` on
    its short side: the fingerprint then works on few pixels (and an image already
    that small is left as it is, so reducing twice changes nothing)."""
    factor = min(im.width, im.height) // (SIDE * 4)
    if factor > 1 and im.mode in ("RGB", "RGBA", "L", "LA"):
        return im.reduce(factor)
    return im


def _phash(im: object) -> int:
    from PIL import Image

    assert isinstance(im, Image.Image)
    im = _reduced(im)
    if im.mode in ("RGBA", "LA", "PA", "P"):
        # Transparent parts count as white, as a viewer would show them on paper.
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)
    small = im if im.mode == "L" else im.convert("L")
    if small.size != (SIDE, SIDE):  # resizing to its own size would only copy it
        small = small.resize((SIDE, SIDE), Image.Resampling.BOX)
    return fingerprint_bits(small.tobytes())
