"""A bounded TIFF/EXIF reader: IFD0 and the Exif sub-IFD, the tags generators use.

Only a handful of tags carry generation metadata, so only those are kept:
ImageDescription/Make/Model (ComfyUI WebP, SwarmUI legacy, Midjourney),
Software and MakerNote (Fooocus), UserComment (A1111, SwarmUI, Fooocus...).
Every offset is checked against the blob, entry counts are capped and an IFD
is never visited twice, so a hostile blob cannot loop or allocate much.
"""

from __future__ import annotations

import struct

from repro.errors import InputError
from repro.record.values import field, value_class

IMAGE_DESCRIPTION = 0x010E
MAKE = 0x010F
MODEL = 0x0110
SOFTWARE = 0x0131
EXIF_IFD = 0x8769
USER_COMMENT = 0x9286
MAKER_NOTE = 0x927C

#: Tags whose values are kept; everything else is skipped.
WANTED = frozenset({IMAGE_DESCRIPTION, MAKE, MODEL, SOFTWARE, EXIF_IFD, USER_COMMENT, MAKER_NOTE})

_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_MAX_ENTRIES = 1024


@value_class
class Exif:
    """The kept tags of IFD0 and of the Exif sub-IFD, values as raw bytes or ints."""

    byte_order: str  # "II" (little-endian) or "MM" (big-endian)
    ifd0: dict[int, bytes | int] = field(default_factory=dict)
    exif: dict[int, bytes | int] = field(default_factory=dict)

    def text(self, tag: int, *, ifd: str = "ifd0") -> str | None:
        """An ASCII/UNDEFINED tag as text (UTF-8, else Latin-1), NULs stripped at both
        ends (NovelAI's WebP ImageDescription starts with four)."""
        value = (self.ifd0 if ifd == "ifd0" else self.exif).get(tag)
        if not isinstance(value, bytes):
            return None
        return decode_text(value.strip(b"\0"))

    def user_comment(self) -> tuple[str, bytes, str] | None:
        """``(text, raw, where)`` of the UserComment, Exif sub-IFD first, then IFD0."""
        for where, table in (("exif", self.exif), ("ifd0", self.ifd0)):
            raw = table.get(USER_COMMENT)
            if isinstance(raw, bytes) and raw.strip(b"\0 "):
                return decode_user_comment(raw, self.byte_order), raw, where
        return None


def decode_text(raw: bytes) -> str:
    """Bytes from a metadata field as text: UTF-8 when valid, else Latin-1."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def parse_tiff(data: bytes) -> Exif:
    """Read IFD0 and the Exif sub-IFD of a TIFF blob (the body of an EXIF segment)."""
    if data.startswith(b"Exif\0\0"):
        data = data[6:]
    if len(data) < 8 or data[:2] not in (b"II", b"MM"):
        raise InputError("EXIF: no TIFF header")
    order = "<" if data[:2] == b"II" else ">"
    (first,) = struct.unpack_from(order + "I", data, 4)
    result = Exif(byte_order=data[:2].decode("ascii"))
    visited: set[int] = set()
    result.ifd0 = _read_ifd(data, first, order, visited)
    pointer = result.ifd0.get(EXIF_IFD)
    if isinstance(pointer, int):
        result.exif = _read_ifd(data, pointer, order, visited)
    return result


def _read_ifd(data: bytes, offset: int, order: str, visited: set[int]) -> dict[int, bytes | int]:
    if offset in visited or offset < 8 or offset + 2 > len(data):
        return {}
    visited.add(offset)
    (count,) = struct.unpack_from(order + "H", data, offset)
    if count > _MAX_ENTRIES or offset + 2 + 12 * count > len(data):
        raise InputError(f"EXIF: IFD at offset {offset} claims {count} entries")
    values: dict[int, bytes | int] = {}
    for i in range(count):
        entry = offset + 2 + 12 * i
        tag, kind, n = struct.unpack_from(order + "HHI", data, entry)
        if tag not in WANTED or kind not in _TYPE_SIZES:
            continue
        size = _TYPE_SIZES[kind] * n
        if size <= 4:
            start = entry + 8
        else:
            (start,) = struct.unpack_from(order + "I", data, entry + 8)
        if start + size > len(data):
            continue  # a value pointing outside the blob is skipped, not trusted
        if kind in (3, 4) and n == 1:
            fmt = order + ("H" if kind == 3 else "I")
            values[tag] = struct.unpack_from(fmt, data, start)[0]
        elif kind in (1, 2, 6, 7):
            values[tag] = data[start:start + size]
    return values


_CHARSETS = {
    b"ASCII\0\0\0": "ascii",
    b"UNICODE\0": "unicode",
    b"JIS\0\0\0\0\0": "jis",
    b"\0\0\0\0\0\0\0\0": "undefined",
}


def decode_user_comment(raw: bytes, byte_order: str) -> str:
    """Decode an EXIF UserComment.

    The first 8 bytes name the charset (``ASCII``, ``UNICODE``, ``JIS`` or
    zeros); Fooocus writes no prefix at all. ``UNICODE`` is UTF-16 whose byte
    order varies by writer: piexif writes big-endian (in an ``MM`` TIFF),
    SwarmUI little-endian (in an ``II`` TIFF), so a BOM or the position of
    the zero bytes decides, and the TIFF byte order breaks ties.
    """
    charset = _CHARSETS.get(raw[:8])
    if charset == "unicode":
        return decode_utf16(raw[8:], byte_order).rstrip("\0")
    if charset == "jis":
        return raw[8:].decode("shift_jis", errors="replace").rstrip("\0")
    body = raw[8:] if charset is not None else raw
    return decode_text(body.rstrip(b"\0"))


def decode_utf16(body: bytes, byte_order: str) -> str:
    """UTF-16 text of unknown byte order (see ``decode_user_comment``)."""
    if body[:2] == b"\xff\xfe":
        return body[2:].decode("utf-16-le", errors="replace")
    if body[:2] == b"\xfe\xff":
        return body[2:].decode("utf-16-be", errors="replace")
    if len(body) % 2:
        body = body[:-1]
    sample = body[:8192]
    zeros_even = sample[0::2].count(0)
    zeros_odd = sample[1::2].count(0)
    # Mostly-ASCII text has a zero high byte in every code unit: at even
    # offsets in big-endian, at odd offsets in little-endian.
    if zeros_even > 2 * zeros_odd:
        codec = "utf-16-be"
    elif zeros_odd > 2 * zeros_even:
        codec = "utf-16-le"
    else:
        codec = "utf-16-be" if byte_order == "MM" else "utf-16-le"
    return body.decode(codec, errors="replace")
