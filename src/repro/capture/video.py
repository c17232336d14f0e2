"""The metadata of ComfyUI's video outputs: MP4/MOV (``SaveVideo``) and WebM
(``SaveWEBM``), read without decoding a frame.

ComfyUI writes the executed prompt and the workflow as container tags: in MP4 with
``movflags=use_metadata_tags`` (``moov/meta`` or ``moov/udta/meta``: a ``keys``
box naming each ``ilst`` item), in WebM as Matroska ``SimpleTag`` pairs (names
upper-cased by the muxer). ``tags`` returns them by lower-cased name; it bounds
what it reads (``MAX_TAG``, ``MAX_BOXES``) and returns what it found before a
container ends early.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

#: Largest tag value read.
MAX_TAG = 32 * 1024 * 1024
#: Most boxes or elements walked in one file.
MAX_BOXES = 100_000
_MP4_CONTAINERS = {b"moov", b"udta", b"meta"}
_EBML = b"\x1a\x45\xdf\xa3"
# Matroska element ids (with their length marker): Segment, Tags, Tag, SimpleTag,
# TagName, TagString.
_SEGMENT, _TAGS, _TAG, _SIMPLE = 0x18538067, 0x1254C367, 0x7373, 0x67C8
_NAME, _STRING = 0x45A3, 0x4487
_DESCEND = {_SEGMENT, _TAGS, _TAG, _SIMPLE}


def sniff_video(head: bytes) -> str | None:
    """``video/mp4`` (also QuickTime), ``video/webm`` (also Matroska), or None."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    if head.startswith(_EBML):
        return "video/webm"
    return None


def tags(stream: BinaryIO, size: int, media_type: str) -> dict[str, str]:
    """The container's text tags by lower-cased name."""
    found: dict[str, str] = {}
    if media_type == "video/webm":
        _ebml(stream, 0, size, found, [0])
    else:
        _boxes(stream, 0, size, found, [0])
    return found


def complete(stream: BinaryIO, size: int, media_type: str) -> bool:
    """Whether a video file is whole, judged by its top-level structure only.

    MP4/MOV: the top-level box sizes add up to the file size and a ``moov`` box is
    among them (a muxer writes ``moov`` and the final ``mdat`` size last). WebM: the
    Segment's declared size ends within the file; a Segment of unknown size (a
    live, unseekable writer) is judged by stability alone (True).
    """
    if media_type == "video/webm":
        return _webm_complete(stream, size)
    pos, moov, boxes = 0, False, 0
    while pos + 8 <= size and boxes < MAX_BOXES:
        boxes += 1
        stream.seek(pos)
        box_size, kind = struct.unpack(">I4s", stream.read(8))
        if box_size == 1:
            box_size = struct.unpack(">Q", stream.read(8))[0]
        elif box_size == 0:
            box_size = size - pos  # the last box runs to the end
        if box_size < 8:
            return False
        moov = moov or kind == b"moov"
        pos += box_size
    return pos == size and moov


def _webm_complete(stream: BinaryIO, size: int) -> bool:
    stream.seek(0)
    header_id, header_size = _vint(stream, True), _vint(stream, False)
    if header_id is None or header_size is None or header_size[0] < 0:
        return False
    stream.seek(header_id[1] + header_size[1] + header_size[0])
    segment_id, segment_size = _vint(stream, True), _vint(stream, False)
    if segment_id is None or segment_size is None or segment_id[0] != _SEGMENT:
        return False
    if segment_size[0] < 0:
        return True
    return stream.tell() + segment_size[0] <= size


def _boxes(stream: BinaryIO, start: int, end: int, found: dict[str, str],
           count: list[int]) -> None:
    keys: list[str] = []
    pos = start
    while pos + 8 <= end and count[0] < MAX_BOXES:
        count[0] += 1
        stream.seek(pos)
        head = stream.read(8)
        if len(head) < 8:
            return
        size, kind = struct.unpack(">I4s", head)
        body = pos + 8
        if size == 1:
            large = stream.read(8)
            if len(large) < 8:
                return
            size, body = struct.unpack(">Q", large)[0], pos + 16
        elif size == 0:
            size = end - pos
        if size < body - pos or pos + size > end:
            return  # ends early: keep what was found
        if kind in _MP4_CONTAINERS:
            # ``meta`` is a full box (4 bytes of version and flags) in MP4, not in QuickTime.
            inner = body
            if kind == b"meta":
                stream.seek(body + 4)
                inner = body if stream.read(4) == b"hdlr" else body + 4
            _boxes(stream, inner, pos + size, found, count)
        elif kind == b"keys":
            keys = _keys(stream, body, pos + size)
        elif kind == b"ilst":
            _items(stream, body, pos + size, keys, found)
        pos += size


def _keys(stream: BinaryIO, start: int, end: int) -> list[str]:
    stream.seek(start + 4)
    raw = stream.read(min(end - start - 4, MAX_TAG))
    if len(raw) < 4:
        return []
    n = struct.unpack(">I", raw[:4])[0]
    keys, pos = [], 4
    for _ in range(min(n, MAX_BOXES)):
        if pos + 8 > len(raw):
            break
        size = struct.unpack(">I", raw[pos:pos + 4])[0]
        if size < 8:
            break
        keys.append(raw[pos + 8:pos + size].decode("utf-8", "replace"))
        pos += size
    return keys


def _items(stream: BinaryIO, start: int, end: int, keys: list[str],
           found: dict[str, str]) -> None:
    pos = start
    while pos + 8 <= end:
        stream.seek(pos)
        size, index = struct.unpack(">II", stream.read(8))
        if size < 8 or pos + size > end:
            return
        # The item holds a ``data`` box: size, "data", type, locale, then the value.
        stream.seek(pos + 8)
        data = stream.read(min(size - 8, MAX_TAG + 16))
        if 1 <= index <= len(keys) and len(data) >= 16 and data[4:8] == b"data":
            found[keys[index - 1].lower()] = data[16:].decode("utf-8", "replace")
        pos += size


def _vint(stream: BinaryIO, keep_marker: bool) -> tuple[int, int] | None:
    first = stream.read(1)
    if not first:
        return None
    b = first[0]
    length = next((i + 1 for i in range(8) if b & (0x80 >> i)), 0)
    if length == 0:
        return None
    rest = stream.read(length - 1)
    if len(rest) < length - 1:
        return None
    value = b if keep_marker else b & (0xFF >> length)
    for c in rest:
        value = (value << 8) | c
    unknown = not keep_marker and value == (1 << (7 * length)) - 1
    return (-1 if unknown else value), length


def _ebml(stream: BinaryIO, start: int, end: int, found: dict[str, str],
          count: list[int]) -> None:
    pos = start
    name: str | None = None
    while pos < end and count[0] < MAX_BOXES:
        count[0] += 1
        stream.seek(pos)
        ident = _vint(stream, True)
        size = _vint(stream, False)
        if ident is None or size is None:
            return
        body = pos + ident[1] + size[1]
        length = end - body if size[0] < 0 else size[0]
        if body + length > end:
            length = end - body  # ends early: read what is there
        if ident[0] in _DESCEND:
            _ebml(stream, body, body + length, found, count)
        elif ident[0] in (_NAME, _STRING) and length <= MAX_TAG:
            stream.seek(body)
            text = stream.read(length).decode("utf-8", "replace").rstrip("\0")
            if ident[0] == _NAME:
                name = text
            elif name is not None:
                found.setdefault(name.lower(), text)
        pos = body + length
