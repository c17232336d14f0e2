"""Thumbnails of outputs: small WebP images made once and kept as objects.

``add`` makes an output's thumbnail from the one decode that also gives its
pixel hash and fingerprint (``perceptual.looks_of``); an output captured before
thumbnails existed gets its own the first time a page needs it
(``Thumbnails.make``), and keeps it. ``repro graph --format html`` then reads
about a kilobyte per output instead of decoding each one.

A thumbnail is an object like any other (content-addressed, read-only). The
output it shows is named by a link in the pack that holds it, when ``add``
packed its batch (``ObjectStore.put_bytes(made_from=)``: no file of its own),
or else by a ref keyed by the output's id, ``.repro/thumbs/<2 hex>/<62 hex>``,
holding the thumbnail's id. Both are derived: deleting them loses nothing but
the time to make the thumbnails again.
So they are written without an fsync, and a ref a crash left empty or torn, or
one naming an object that is not in the store, reads as no thumbnail. ``gc``
keeps the thumbnail of every output it keeps and drops the refs of outputs gone.
``push`` sends a record's thumbnail with it (the remote's index names it beside
the output) and ``pull``/``clone`` write the refs of the thumbnails they fetch.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from repro.errors import ReproError
from repro.objects.hashing import hash_bytes
from repro.objects.ids import check_id
from repro.objects.store import ObjectStore

#: Long side of a thumbnail, in pixels (the page shows them at most 160x110).
SIDE = 128
#: Outputs larger than this (bytes, pixels) get no thumbnail.
MAX_SOURCE_BYTES = 64 * 1024 * 1024
MAX_PIXELS = 40_000_000
#: A thumbnail is about a kilobyte; a ref naming anything larger is not believed.
MAX_THUMBNAIL_BYTES = 256 * 1024
#: WebP at quality 75, encoder method 2: about 1 kB for a 128x128 scene, 0.5 ms.
_WEBP = {"quality": 75, "method": 2}
#: A thumbnail of at most this many pixels (an output that small) is lossless, with
#: the least effort: lossy WebP costs about 0.1 ms below this size whatever its
#: settings (the VP8 encoder's fixed work), lossless 0.08 ms, every pixel kept, in
#: at most about 4 kB (docs/benchmarks.md, "The one decode of each output").
TINY = 32 * 32
_TINY_WEBP = {"lossless": True, "quality": 0, "method": 0}

_MEDIA_TYPES = ((b"RIFF", "image/webp"), (b"\xff\xd8", "image/jpeg"), (b"\x89PNG", "image/png"))


def encode(im: Any) -> bytes:
    """A Pillow image as thumbnail bytes: at most ``SIDE`` pixels on its long side,
    WebP (with its alpha when some pixel is not opaque)."""
    # Importing WebPImagePlugin registers the WebP encoder; without it, ``save``
    # would import every format plugin Pillow has (about 10 ms).
    from PIL import Image, WebPImagePlugin  # noqa: F401

    assert isinstance(im, Image.Image)
    if im.mode not in ("RGB", "RGBA"):
        im = im.convert("RGBA" if im.mode in ("LA", "PA", "P", "La") else "RGB")
    if im.mode == "RGBA":
        low, _ = im.getchannel("A").getextrema()
        if isinstance(low, int | float) and low >= 255:
            im = im.convert("RGB")
    if max(im.size) > SIDE:
        im = im.copy()
        im.thumbnail((SIDE, SIDE), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    # The format said by the name: ``save(format=...)`` first imports five format
    # readers (3.7 ms of every ``add``).
    out.name = "thumbnail.webp"
    im.save(out, **(_TINY_WEBP if im.width * im.height <= TINY else _WEBP))
    return out.getvalue()


def media_type(data: bytes) -> str:
    """The media type of thumbnail bytes, for a ``data:`` URI."""
    return next((kind for magic, kind in _MEDIA_TYPES if data.startswith(magic)),
                "application/octet-stream")


def thumbnail_of(data: bytes) -> bytes | None:
    """The thumbnail of an image's bytes, or None when they are not a decodable
    image within bounds. A JPEG is decoded reduced (Pillow's ``draft``)."""
    from repro.imaging import ImageUnreadable, open_image

    if len(data) > MAX_SOURCE_BYTES:
        return None
    try:
        with open_image(io.BytesIO(data), max_pixels=MAX_PIXELS) as im:
            im.draft("RGB", (SIDE, SIDE))
            factor = min(im.width, im.height) // SIDE
            if factor > 1 and im.mode in ("RGB", "RGBA", "L", "LA"):
                return encode(im.reduce(factor))
            return encode(im)
    except (OSError, ImageUnreadable):
        return None


class Thumbnails:
    """The thumbnails of a store's outputs: objects, and refs keyed by the output."""

    def __init__(self, folder: Path, store: ObjectStore):
        self.dir = folder
        self._dir = str(folder)
        self.store = store

    def ref(self, output: str) -> Path:
        output = check_id(output)
        return self.dir / output[:2] / output[2:]

    def _named(self, output: str) -> str | None:
        """The thumbnail id the output's ref holds, when the ref is whole, else the
        one its pack links to it. (Plain strings, not ``Path``: a page reads 2,000
        of them.)"""
        output = check_id(output)
        try:
            with open(f"{self._dir}/{output[:2]}/{output[2:]}", "rb") as f:
                return check_id(f.read(80).decode("ascii").strip())
        except (OSError, ValueError):
            return self.store.made_of(output)

    def id_of(self, output: str) -> str | None:
        """The id of the output's thumbnail, when its ref is whole and the object stored."""
        thumb = self._named(output)
        return thumb if thumb is not None and thumb in self.store else None

    def read(self, output: str) -> bytes | None:
        """The output's thumbnail bytes (checked against their id), or None."""
        thumb = self._named(output)
        if thumb is None:
            return None
        try:
            with self.store.open(thumb) as f:
                data = f.read(MAX_THUMBNAIL_BYTES + 1)
        except (ReproError, OSError):
            return None
        ok = len(data) <= MAX_THUMBNAIL_BYTES and hash_bytes(data) == thumb
        return data if ok else None

    def put(self, output: str, data: bytes) -> str:
        """Store thumbnail bytes as an object (inside the store's batch, if one is
        open): in a packing batch, linked to the output in the pack; else with the
        output's ref pointing at them, written in place, with no temp file and no
        fsync: a reader that finds it torn makes it again."""
        if self.store.packing:
            return self.store.put_bytes(data, made_from=output)
        thumb = self.store.put_bytes(data)
        self.link(output, thumb)
        return thumb

    def link(self, output: str, thumb: str) -> None:
        """Point the output's ref at a stored thumbnail (one a pull brought)."""
        path = self.ref(output)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            f.write(check_id(thumb).encode("ascii") + b"\n")

    def make(self, output: str) -> bytes | None:
        """The thumbnail of a stored output that has none, made from the output's
        bytes (checked against its id); None when it is not a decodable image.
        What is not an image at all (a video) is told by its header alone: it is
        not read whole each time a page is drawn."""
        from repro.imaging import ImageUnreadable, open_image

        try:
            if self.store.size(output) > MAX_SOURCE_BYTES:
                return None
            with self.store.open(output) as f, open_image(f, max_pixels=MAX_PIXELS):
                pass
            return thumbnail_of(self.store.read_bytes(output))
        except (ReproError, OSError, ValueError, ImageUnreadable):
            return None

    def keep(self, made: dict[str, bytes]) -> None:
        """Store thumbnails made for outputs that had none, in one durable batch.
        A store that cannot be written (read-only, full) keeps none of them: they
        are only a cache, made again next time."""
        if not made:
            return
        with contextlib.suppress(OSError), self.store.batch():
            for output, data in made.items():
                self.put(output, data)

    def refs(self) -> Iterator[tuple[str, str | None]]:
        """Every link the packs keep, then every ref: ``(output, thumbnail id)``, the id
        None when the ref is torn."""
        yield from self.store.links()
        if not self.dir.is_dir():
            return
        for fan in sorted(os.listdir(self.dir)):
            folder = self.dir / fan
            if len(fan) != 2 or not folder.is_dir():
                continue
            for rest in sorted(os.listdir(folder)):
                try:
                    output = check_id(fan + rest)
                except ValueError:
                    continue
                try:
                    thumb: str | None = check_id((folder / rest).read_text("ascii").strip())
                except (OSError, ValueError):
                    thumb = None
                yield output, thumb

    def prune(self, gone: Callable[[str], bool]) -> int:
        """Remove the refs of outputs ``gone`` says are gone, and torn refs; how many."""
        removed = 0
        for output, thumb in self.refs():
            if thumb is None or gone(output):
                with contextlib.suppress(FileNotFoundError):
                    self.ref(output).unlink()
                    removed += 1
        return removed
