"""Metadata readers: bytes in, normalised generation info out.

``read_file`` and ``read_bytes`` sniff the container, collect every metadata
payload without decoding pixels (stealth LSB metadata aside), recognise the
generators that wrote them and return one ``Generation``.
"""

from __future__ import annotations

import io
import os
from typing import BinaryIO

from repro.capture.containers import Extracted, extract
from repro.capture.detect import Candidate, assemble, classify_parameters, find_candidates
from repro.capture.exif import decode_text
from repro.capture.types import LEVELS, MODEL_ROLES, Generation, InputRef, ModelRef, worst_level
from repro.errors import InputError, LimitExceeded, NotFound

__all__ = [
    "LEVELS", "MODEL_ROLES", "OUTPUT_SUFFIXES", "Generation", "InputRef", "ModelRef",
    "read_bytes", "read_file", "worst_level",
]

#: The names a folder scan (``watch``, ``status``) takes for outputs: images, and
#: ComfyUI's videos (``SaveVideo``, ``SaveWEBM``). What a file is, is then read
#: from its bytes, never from this suffix.
OUTPUT_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".avif", ".gif", ".jxl", ".tif", ".tiff",
                   ".mp4", ".mov", ".webm", ".mkv")

#: Largest sidecar ``.txt`` read next to an image.
MAX_SIDECAR = 1024 * 1024
_STEALTH_TYPES = ("image/png", "image/webp")


def read_file(path: str | os.PathLike[str], *, stealth: bool = True,
              sidecar: bool = True) -> Generation:
    """Read one image file's generation metadata.

    The container is recognised from its bytes, not its extension. Pixels are
    decoded only to look for stealth metadata, and only when the file has no
    other metadata. With ``sidecar``, an A1111 ``<image>.txt`` next to an image
    that carries nothing is read. Raises ``NotAnImage``, ``TruncatedFile``,
    ``LimitExceeded`` or ``InputError``/``NotFound`` for an unreadable path.
    """
    name = os.fspath(path)
    try:
        stream = open(name, "rb")  # noqa: SIM115 - closed below, stealth needs it open
    except FileNotFoundError:
        raise NotFound(f"no such file: {name}") from None
    except IsADirectoryError:
        raise InputError(f"not a file: {name}") from None
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror}") from None
    with stream:
        size = os.fstat(stream.fileno()).st_size
        return _read(stream, size, name, stealth=stealth,
                     sidecar_path=name if sidecar else None)


def read_bytes(data: bytes, *, name: str = "<bytes>", stealth: bool = True,
               sidecar_path: str | None = None) -> Generation:
    """``read_file`` for an image already in memory; the A1111 sidecar of
    ``sidecar_path`` is looked up only when one is given."""
    return _read(io.BytesIO(data), len(data), name, stealth=stealth, sidecar_path=sidecar_path)


def _read(stream: BinaryIO, size: int, name: str, *, stealth: bool,
          sidecar_path: str | None) -> Generation:
    ex = extract(stream, size, name=name)
    candidates = find_candidates(ex)
    if not candidates and stealth and ex.media_type in _STEALTH_TYPES:
        candidates = _stealth_candidates(stream, ex)
    if not candidates and sidecar_path is not None:
        candidates = _sidecar_candidates(sidecar_path, ex)
    return assemble(ex, candidates)


def _stealth_candidates(stream: BinaryIO, ex: Extracted) -> list[Candidate]:
    from repro.capture.stealth import read_stealth  # Pillow: only for files with no metadata

    try:
        found = read_stealth(stream, ex.warnings)
    except LimitExceeded:
        raise
    except InputError as exc:
        ex.warnings.append(f"stealth metadata unreadable ({exc})")
        return []
    if found is None:
        return []
    ex.blobs["stealth"] = found.payload
    candidate = classify_parameters(decode_text(found.payload), "stealth", ex.warnings)
    return [candidate] if candidate is not None else []


def _sidecar_candidates(image_path: str, ex: Extracted) -> list[Candidate]:
    base, _ = os.path.splitext(image_path)
    sidecar = base + ".txt"
    try:
        with open(sidecar, "rb") as handle:
            raw = handle.read(MAX_SIDECAR + 1)
    except OSError:
        return []
    if len(raw) > MAX_SIDECAR:
        ex.warnings.append(f"sidecar {sidecar} is over {MAX_SIDECAR} bytes and was not read")
        return []
    ex.blobs["sidecar"] = raw
    candidate = classify_parameters(decode_text(raw), "sidecar", ex.warnings)
    return [candidate] if candidate is not None else []
