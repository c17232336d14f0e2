"""Decoded pixels as the judge: are two images the same, and if not, by how much.

Both images are decoded to RGBA (metadata and compression do not count).
``max_abs_diff`` is the largest difference of one channel of one pixel
(0-255), ``psnr`` the peak signal-to-noise ratio in dB over every channel
(None when identical: infinite), and ``image`` a PNG of the difference,
amplified so that small differences show.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

from repro.errors import InputError

MAX_PIXELS = 100_000_000
#: Each channel's difference is multiplied by this in the difference image.
AMPLIFY = 8


@dataclass(frozen=True)
class PixelDiff:
    identical: bool
    max_abs_diff: int
    psnr: float | None
    #: the difference image (PNG), None when identical
    image: bytes | None = None
    #: set when the sizes differ (nothing else is compared then)
    sizes: tuple[tuple[int, int], tuple[int, int]] | None = None


def compare_pixels(a: Path | bytes, b: Path | bytes) -> PixelDiff:
    """Compare the decoded pixels of two images (paths or bytes)."""
    from PIL import ImageChops

    from repro.imaging import ImageUnreadable, open_image

    def decode(src: Path | bytes) -> object:
        stream = io.BytesIO(src) if isinstance(src, bytes) else src
        try:
            with open_image(stream, max_pixels=MAX_PIXELS) as im:
                return im.convert("RGBA")
        except ImageUnreadable as exc:
            raise InputError(f"cannot decode {'an image' if isinstance(src, bytes) else src}: "
                             f"{exc}") from None

    ia, ib = decode(a), decode(b)
    if ia.size != ib.size:  # type: ignore[attr-defined]
        return PixelDiff(False, 255, 0.0, None, (ia.size, ib.size))  # type: ignore[attr-defined]
    diff = ImageChops.difference(ia, ib)  # type: ignore[arg-type]
    extrema = diff.getextrema()
    worst = max(hi for _lo, hi in extrema)  # type: ignore[misc]
    if worst == 0:
        return PixelDiff(True, 0, None)
    histogram = diff.histogram()
    squares = sum(count * (i % 256) ** 2 for i, count in enumerate(histogram))
    values = diff.width * diff.height * 4
    mse = squares / values
    psnr = 10 * math.log10(255 ** 2 / mse) if mse else None
    shown = diff.point(lambda v: min(255, v * AMPLIFY)).convert("RGB")
    out = io.BytesIO()
    shown.save(out, format="PNG")
    return PixelDiff(False, int(worst), None if psnr is None else round(psnr, 2), out.getvalue())
