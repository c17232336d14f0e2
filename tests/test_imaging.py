"""``open_image``: a PNG stream is read by the PNG reader alone (no other format
plugin imported), with the same pixels and the same refusals as ``Image.open``."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from repro.imaging import ImageTooLarge, ImageUnreadable, open_image


def _encoded(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def _noise(size: tuple[int, int]) -> Image.Image:
    return Image.frombytes("RGB", size, bytes(range(256)) * (size[0] * size[1] * 3 // 256 + 1))


def test_a_png_stream_reads_the_same_pixels_as_image_open() -> None:
    data = _encoded(_noise((37, 21)), "PNG")
    with open_image(io.BytesIO(data), max_pixels=10_000) as ours:
        pixels, fmt = ours.tobytes(), ours.format
    with Image.open(io.BytesIO(data)) as theirs:
        assert (pixels, fmt) == (theirs.tobytes(), "PNG")


def test_other_formats_still_open() -> None:
    data = _encoded(_noise((16, 16)), "JPEG")
    with open_image(io.BytesIO(data), max_pixels=10_000) as image:
        assert (image.format, image.size) == ("JPEG", (16, 16))


class _Pipe(io.RawIOBase):
    """A stream that cannot seek, as a pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        return self._data.readinto(buffer)


def test_a_stream_that_cannot_seek_or_is_not_at_its_start_still_opens() -> None:
    data = _encoded(_noise((8, 8)), "PNG")
    with open_image(_Pipe(data), max_pixels=100) as image:  # type: ignore[arg-type]
        assert (image.format, image.size) == ("PNG", (8, 8))
    stream = io.BytesIO(data)
    stream.read(20)
    with open_image(stream, max_pixels=100) as image:
        assert (image.format, image.size) == ("PNG", (8, 8))


def test_a_png_over_the_cap_or_damaged_is_refused() -> None:
    data = _encoded(_noise((100, 100)), "PNG")
    with pytest.raises(ImageTooLarge), open_image(io.BytesIO(data), max_pixels=9_999):
        pass
    damaged = data[:60] + bytes(len(data) - 60)
    with pytest.raises(ImageUnreadable), open_image(io.BytesIO(damaged), max_pixels=10_000) as im:
        im.load()


def test_opening_a_png_imports_no_other_format_plugin(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(_encoded(_noise((4, 4)), "PNG"))
    script = ("import io, sys\nfrom repro.imaging import open_image\n"
              "data = open(sys.argv[1], 'rb').read()\n"
              "with open_image(io.BytesIO(data), max_pixels=100) as im: im.load()\n"
              "print(sorted(m for m in sys.modules if m.endswith('ImagePlugin')))")
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                          text=True, check=True, timeout=60)
    assert done.stdout.strip() == "['PIL.PngImagePlugin']"
