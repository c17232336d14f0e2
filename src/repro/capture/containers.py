"""Collect the raw metadata payloads of an image file without decoding pixels.

One walker per container, each reading a seekable binary stream:

- PNG: ``tEXt`` (Latin-1), ``zTXt``, ``iTXt`` (UTF-8, maybe compressed) anywhere
  in the file, including after ``IDAT``; ComfyUI's ``comf`` chunks; ``eXIf``;
  ``caBX`` (C2PA). ``IDAT`` is skipped by seeking, never read.
- JPEG: APP1 Exif and XMP, COM, APP11 JUMBF (C2PA, reassembled across
  segments), size from SOFn. Reading stops at the first SOS.
- WebP: RIFF chunks in any order (EXIF may follow the animation frames).
- GIF: comment extensions.
- MP4/MOV and WebM (ComfyUI's video outputs): their text tags (``repro.capture.video``).

Bounds: a text chunk longer than ``MAX_CHUNK`` or inflating past
``MAX_INFLATE`` is refused with ``LimitExceeded``; so is a file whose
metadata adds up past ``MAX_TOTAL``.
"""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO

from repro.capture.exif import decode_text
from repro.capture.extracted import (
    MAX_CHUNK,
    MAX_PARTS,
    Extracted,
    Truncated,
    inflate_into,
    read_part,
    take_exif,
)
from repro.capture.video import sniff_video
from repro.capture.video import tags as video_tags
from repro.errors import LimitExceeded, NotAnImage, TruncatedFile

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_XMP_NS = b"http://ns.adobe.com/xap/1.0/\0"
_PNG_TEXT = frozenset({b"tEXt", b"zTXt", b"iTXt", b"comf", b"eXIf", b"caBX"})
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


def sniff(head: bytes) -> str | None:
    """The media type named by a file's first bytes, or None."""
    if head.startswith(PNG_MAGIC):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return None


def extract(stream: BinaryIO, size: int, *, name: str = "<bytes>") -> Extracted:
    """Walk the container of an image stream of ``size`` bytes and collect its metadata.

    Raises ``NotAnImage`` (empty file, unknown magic), ``TruncatedFile`` (the
    container ends before any metadata was found), ``LimitExceeded``.
    """
    if size == 0:
        raise NotAnImage(f"not an image: empty file ({name})")
    stream.seek(0)
    head = stream.read(16)
    media_type = sniff(head)
    if media_type is None and (video := sniff_video(head)) is not None:
        out = Extracted(media_type=video)
        out.texts = video_tags(stream, size, video)
        out.blobs = {key: text.encode() for key, text in out.texts.items()}
        out.account(sum(len(b) for b in out.blobs.values()))
        return out
    if media_type is None:
        raise NotAnImage(f"not an image: unknown file signature ({name})",
                         hint="repro reads PNG, JPEG, WebP and GIF images and MP4 and WebM videos")
    out = Extracted(media_type=media_type)
    walker = {"image/png": _walk_png, "image/jpeg": _walk_jpeg,
              "image/webp": _walk_webp, "image/gif": _walk_gif}[media_type]
    try:
        walker(stream, size, out)
    except Truncated as exc:
        if not out.has_metadata():
            raise TruncatedFile(f"truncated file: {exc} ({name})") from None
        out.warnings.append(f"file is truncated ({exc}); metadata read before that point")
    return out


# --- PNG -------------------------------------------------------------------

def _walk_png(stream: BinaryIO, size: int, out: Extracted) -> None:
    pos = 8
    for _ in range(MAX_PARTS):
        stream.seek(pos)
        header = stream.read(8)
        if len(header) < 8:
            raise Truncated("PNG has no IEND chunk")
        length, ctype = struct.unpack(">I4s", header)
        end = pos + 12 + length
        if ctype in _PNG_TEXT:
            if length > MAX_CHUNK:
                raise LimitExceeded(f"PNG {ctype.decode('latin-1')} chunk of {length} bytes is "
                                    f"over the {MAX_CHUNK} byte limit")
            if end > size:
                raise Truncated(f"PNG {ctype.decode('latin-1')} chunk")
            out.account(length)
            data = read_part(stream, length, "PNG chunk")
            if stream.read(4) != struct.pack(">I", zlib.crc32(ctype + data)):
                # Damaged or edited after the tool wrote it: read, but not trusted.
                name = data.partition(b"\0")[0][:79].decode("latin-1")
                out.damaged.append(f"PNG {ctype.decode('latin-1')} chunk {name!r} has a bad "
                                   "CRC: the file was damaged or edited after it was written")
            _png_text(ctype, data, out)
        elif ctype == b"IHDR":
            if length < 8 or end > size:
                raise Truncated("PNG IHDR")
            out.width, out.height = struct.unpack(">II", read_part(stream, 8, "PNG IHDR"))
        elif ctype == b"IEND":
            return
        elif end > size:
            raise Truncated(f"PNG {ctype.decode('latin-1')} chunk")
        pos = end
    raise LimitExceeded(f"PNG has more than {MAX_PARTS} chunks")


def _png_text(ctype: bytes, data: bytes, out: Extracted) -> None:
    if ctype == b"eXIf":
        take_exif(data, out, "eXIf")
        return
    if ctype == b"caBX":
        out.jumbf = (out.jumbf or b"") + data
        out.blobs["c2pa"] = out.jumbf
        return
    keyword, sep, body = data.partition(b"\0")
    if not sep or not keyword or len(keyword) > 79:
        out.warnings.append(f"PNG {ctype.decode('latin-1')} chunk without a keyword was skipped")
        return
    key = keyword.decode("latin-1")
    raw: bytes | None
    # tEXt/zTXt are Latin-1 by the PNG spec, and Pillow writes them so; some
    # writers put UTF-8 there anyway. Bytes that are valid UTF-8 and not plain
    # ASCII are almost never intended Latin-1, so UTF-8 is tried first.
    if ctype in (b"tEXt", b"comf"):
        raw = body
        text = decode_text(raw)
    elif ctype == b"zTXt":
        raw = inflate_into(body[1:], f"PNG zTXt {key!r}", out) if body else b""
        if raw is None:
            return
        text = decode_text(raw)
    else:  # iTXt
        if len(body) < 2:
            out.warnings.append(f"PNG iTXt {key!r} is malformed and was skipped")
            return
        compressed = body[0] == 1
        rest = body[2:]
        _lang, _, rest = rest.partition(b"\0")
        _translated, _, rest = rest.partition(b"\0")
        raw = inflate_into(rest, f"PNG iTXt {key!r}", out) if compressed else rest
        if raw is None:
            return
        text = raw.decode("utf-8", errors="replace")
    if key in out.texts:
        out.warnings.append(f"PNG text {key!r} appears more than once; the first is used")
        return
    out.texts[key] = text
    out.blobs[key] = raw
    if key == "XML:com.adobe.xmp" and out.xmp is None:
        out.xmp = text
        out.blobs.setdefault("xmp", raw)


# --- JPEG ------------------------------------------------------------------

def _walk_jpeg(stream: BinaryIO, size: int, out: Extracted) -> None:
    pos = 2
    jumbf: dict[int, list[bytes]] = {}
    for _ in range(MAX_PARTS):
        stream.seek(pos)
        pair = stream.read(2)
        if len(pair) < 2:
            raise Truncated("JPEG ends before its image data")
        if pair[0] != 0xFF:
            raise Truncated(f"JPEG marker expected at offset {pos}")
        marker = pair[1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker == 0xD9:
            break
        length_bytes = stream.read(2)
        if len(length_bytes) < 2:
            raise Truncated("JPEG segment header")
        (length,) = struct.unpack(">H", length_bytes)
        if length < 2:
            raise Truncated(f"JPEG segment at offset {pos} has a bad length")
        end = pos + 2 + length
        if end > size:
            raise Truncated("JPEG segment")
        if marker == 0xDA:
            break
        if marker in _SOF:
            if length >= 7:
                body = read_part(stream, 5, "JPEG SOF")
                out.height, out.width = struct.unpack(">HH", body[1:5])
        elif marker in (0xE1, 0xEB, 0xFE):
            body = read_part(stream, length - 2, "JPEG segment")
            out.account(len(body))
            if marker == 0xE1:
                if body.startswith(b"Exif\0"):
                    take_exif(body[6:], out, "JPEG APP1")
                elif body.startswith(_XMP_NS) and out.xmp is None:
                    raw = body[len(_XMP_NS):]
                    out.xmp = raw.decode("utf-8", errors="replace")
                    out.blobs["xmp"] = raw
            elif marker == 0xEB:
                _jumbf_segment(body, jumbf)
            elif out.comment is None:
                out.comment = decode_text(body.rstrip(b"\0"))
                out.blobs["COM"] = body
        pos = end
    if jumbf:
        # One manifest store per box instance; C2PA uses a single one.
        parts = jumbf[min(jumbf)]
        out.jumbf = b"".join(parts)
        out.blobs["c2pa"] = out.jumbf


def _jumbf_segment(body: bytes, store: dict[int, list[bytes]]) -> None:
    # JPEG XT APP11: "JP", box instance (2), packet sequence (4), then the
    # JUMBF box; continuation packets repeat the 8-byte box header.
    if len(body) < 16 or body[:2] != b"JP":
        return
    instance, sequence = struct.unpack(">HI", body[2:8])
    box = body[8:]
    parts = store.setdefault(instance, [])
    if sequence <= 1 or not parts:
        parts.append(box)
    else:
        lbox = struct.unpack(">I", box[:4])[0]
        parts.append(box[16:] if lbox == 1 else box[8:])


# --- WebP ------------------------------------------------------------------

def _walk_webp(stream: BinaryIO, size: int, out: Extracted) -> None:
    stream.seek(4)
    (riff_size,) = struct.unpack("<I", read_part(stream, 4, "RIFF header"))
    limit = min(size, 8 + riff_size)
    pos = 12
    for _ in range(MAX_PARTS):
        if pos + 8 > limit:
            if pos < limit or limit < 8 + riff_size:
                raise Truncated("WebP RIFF chunk list")
            return
        stream.seek(pos)
        fourcc, length = struct.unpack("<4sI", read_part(stream, 8, "WebP chunk header"))
        end = pos + 8 + length
        if end > size:
            raise Truncated(f"WebP {fourcc.decode('latin-1')} chunk")
        if fourcc == b"VP8X" and length >= 10:
            body = read_part(stream, 10, "WebP VP8X")
            out.width = 1 + int.from_bytes(body[4:7], "little")
            out.height = 1 + int.from_bytes(body[7:10], "little")
        elif fourcc == b"VP8 " and length >= 10 and out.width is None:
            body = read_part(stream, 10, "WebP VP8")
            if body[3:6] == b"\x9d\x01\x2a":
                w, h = struct.unpack("<HH", body[6:10])
                out.width, out.height = w & 0x3FFF, h & 0x3FFF
        elif fourcc == b"VP8L" and length >= 5 and out.width is None:
            body = read_part(stream, 5, "WebP VP8L")
            if body[0] == 0x2F:
                bits = int.from_bytes(body[1:5], "little")
                out.width = (bits & 0x3FFF) + 1
                out.height = ((bits >> 14) & 0x3FFF) + 1
        elif fourcc in (b"EXIF", b"XMP "):
            if length > MAX_CHUNK:
                raise LimitExceeded(f"WebP {fourcc.decode('latin-1')} chunk of {length} bytes "
                                    f"is over the {MAX_CHUNK} byte limit")
            out.account(length)
            body = read_part(stream, length, "WebP chunk")
            if fourcc == b"EXIF":
                take_exif(body, out, "WebP EXIF")
            elif out.xmp is None:
                out.xmp = body.decode("utf-8", errors="replace")
                out.blobs["xmp"] = body
        pos = end + (length & 1)
    raise LimitExceeded(f"WebP has more than {MAX_PARTS} chunks")


# --- GIF -------------------------------------------------------------------

def _walk_gif(stream: BinaryIO, size: int, out: Extracted) -> None:
    stream.seek(6)
    width, height, flags = struct.unpack("<HHB", read_part(stream, 5, "GIF screen descriptor"))
    out.width, out.height = width, height
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    comments: list[bytes] = []
    for _ in range(MAX_PARTS):
        stream.seek(pos)
        kind = read_part(stream, 1, "GIF block")[0]
        if kind == 0x3B:
            break
        if kind == 0x21:
            label = read_part(stream, 1, "GIF extension")[0]
            pos, data = _gif_subblocks(stream, pos + 2, keep=label == 0xFE, out=out)
            if label == 0xFE:
                comments.append(data)
        elif kind == 0x2C:
            desc = read_part(stream, 9, "GIF image descriptor")
            pos += 10
            if desc[8] & 0x80:
                pos += 3 << ((desc[8] & 7) + 1)
            pos, _ = _gif_subblocks(stream, pos + 1, keep=False, out=out)
        else:
            raise Truncated(f"GIF block expected at offset {pos}")
    else:
        raise LimitExceeded(f"GIF has more than {MAX_PARTS} blocks")
    if comments:
        out.comment = decode_text(comments[0])
        out.blobs["COM"] = comments[0]


def _gif_subblocks(stream: BinaryIO, pos: int, *, keep: bool, out: Extracted) -> tuple[int, bytes]:
    chunks: list[bytes] = []
    for _ in range(MAX_PARTS):
        stream.seek(pos)
        n = read_part(stream, 1, "GIF sub-block")[0]
        pos += 1
        if n == 0:
            return pos, b"".join(chunks)
        if keep:
            out.account(n)
            chunks.append(read_part(stream, n, "GIF sub-block"))
        pos += n
    raise LimitExceeded(f"GIF extension has more than {MAX_PARTS} sub-blocks")
