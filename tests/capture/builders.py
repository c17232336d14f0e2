"""Terse builders for real image files with metadata, written byte by byte."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Sequence

from PIL import Image

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def text(key: str, value: str) -> bytes:
    return chunk(b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1"))


def ztxt(key: str, value: bytes) -> bytes:
    return chunk(b"zTXt", key.encode("latin-1") + b"\0\0" + zlib.compress(value))


def itxt(key: str, value: str, *, compressed: bool = False) -> bytes:
    body = value.encode("utf-8")
    if compressed:
        body = zlib.compress(body)
    return chunk(b"iTXt", key.encode("latin-1") + b"\0" + bytes([int(compressed), 0])
                 + b"en\0" + b"\0" + body)


def png(before: Sequence[bytes] = (), after: Sequence[bytes] = (), *,
        size: tuple[int, int] = (3, 2), iend: bool = True) -> bytes:
    """A valid grey PNG with the given chunks before and after IDAT."""
    width, height = size
    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    raw = b"".join(b"\0" + bytes(width) for _ in range(height))
    idat = chunk(b"IDAT", zlib.compress(raw))
    end = chunk(b"IEND", b"") if iend else b""
    return PNG_MAGIC + ihdr + b"".join(before) + idat + b"".join(after) + end


# --- TIFF / EXIF -----------------------------------------------------------------------

ASCII, UNDEFINED, LONG = 2, 7, 4


def tiff(ifd0: dict[int, tuple[int, bytes]], exif: dict[int, tuple[int, bytes]] | None = None,
         *, order: str = "MM") -> bytes:
    """A TIFF blob with IFD0 (and an Exif sub-IFD) holding ASCII/UNDEFINED values."""
    e = ">" if order == "MM" else "<"
    entries0 = dict(ifd0)
    if exif:
        entries0[0x8769] = (LONG, b"")  # placeholder, offset patched below
    out = bytearray(order.encode() + struct.pack(e + "HI", 42, 8))

    def ifd_size(entries: dict[int, tuple[int, bytes]]) -> int:
        return 2 + 12 * len(entries) + 4

    data_area = bytearray()
    ifd0_off = 8
    exif_off = ifd0_off + ifd_size(entries0)
    data_start = exif_off + (ifd_size(exif) if exif else 0)

    def encode(entries: dict[int, tuple[int, bytes]], sub_offset: int | None) -> bytes:
        block = bytearray(struct.pack(e + "H", len(entries)))
        for tag in sorted(entries):
            kind, value = entries[tag]
            if tag == 0x8769 and sub_offset is not None:
                block += struct.pack(e + "HHII", tag, LONG, 1, sub_offset)
                continue
            if len(value) <= 4:
                block += struct.pack(e + "HHI", tag, kind, len(value)) + value.ljust(4, b"\0")
            else:
                offset = data_start + len(data_area)
                data_area.extend(value)
                if len(data_area) % 2:
                    data_area.append(0)
                block += struct.pack(e + "HHII", tag, kind, len(value), offset)
        block += struct.pack(e + "I", 0)
        return bytes(block)

    out += encode(entries0, exif_off if exif else None)
    if exif:
        out += encode(exif, None)
    out += data_area
    return bytes(out)


def user_comment(value: str, charset: str = "unicode-be") -> bytes:
    if charset == "unicode-be":
        return b"UNICODE\0" + value.encode("utf-16-be")
    if charset == "unicode-le":
        return b"UNICODE\0" + value.encode("utf-16-le")
    if charset == "ascii":
        return b"ASCII\0\0\0" + value.encode("ascii")
    return value.encode("utf-8")


def jpeg(*segments: bytes, size: tuple[int, int] = (8, 6)) -> bytes:
    """A real JPEG from Pillow with extra segments inserted after SOI."""
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(buf, "JPEG")
    data = buf.getvalue()
    return data[:2] + b"".join(segments) + data[2:]


def segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


def app1_exif(blob: bytes) -> bytes:
    return segment(0xE1, b"Exif\0\0" + blob)


def xmp_packet(inner: str) -> str:
    return ('<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
            '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
            'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            f'<rdf:Description rdf:about="">{inner}</rdf:Description>'
            '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>')


# --- WebP ------------------------------------------------------------------------------

def riff_chunk(fourcc: bytes, data: bytes) -> bytes:
    pad = b"\0" if len(data) % 2 else b""
    return fourcc + struct.pack("<I", len(data)) + data + pad


def webp_animated_with_exif(exif_payload: bytes, *, frames: int = 3) -> bytes:
    """An animated WebP from Pillow with an EXIF chunk appended after the frames."""
    images = [Image.new("RGB", (16, 12), (i * 40, 0, 0)) for i in range(frames)]
    buf = io.BytesIO()
    images[0].save(buf, "WEBP", save_all=True, append_images=images[1:], duration=100)
    data = bytearray(buf.getvalue())
    body = bytes(data[12:]) + riff_chunk(b"EXIF", exif_payload)
    vp8x = body.find(b"VP8X")
    assert vp8x == 0
    flags = body[8] | 0x08  # EXIF present
    body = body[:8] + bytes([flags]) + body[9:]
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


# --- stealth ----------------------------------------------------------------------------

def stealth_image(payload: bytes, magic: str, *, size: tuple[int, int] = (64, 48)) -> Image.Image:
    """An image hiding ``payload`` in alpha or RGB LSBs, column-major, as A1111 does."""
    bits = "".join(f"{b:08b}" for b in magic.encode()) + f"{len(payload) * 8:032b}"
    bits += "".join(f"{b:08b}" for b in payload)
    width, height = size
    rgb = "rgb" in magic
    mode = "RGB" if rgb else "RGBA"
    image = Image.new(mode, size, (120, 130, 140) if rgb else (120, 130, 140, 255))
    pixels = image.load()
    assert pixels is not None
    channels = 3 if rgb else 1
    assert len(bits) <= width * height * channels
    for i in range(0, len(bits), channels):
        pixel = i // channels
        x, y = divmod(pixel, height)
        value = list(pixels[x, y])  # type: ignore[arg-type]
        for c in range(channels):
            if i + c < len(bits):
                target = 3 if not rgb else c
                value[target] = (value[target] & ~1) | int(bits[i + c])
        pixels[x, y] = tuple(value)
    return image


def save(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


# --- CBOR / JUMBF (a minimal C2PA manifest store) -----------------------------------------

def cbor(value: object) -> bytes:
    def head(major: int, n: int) -> bytes:
        if n < 24:
            return bytes([major << 5 | n])
        if n < 256:
            return bytes([major << 5 | 24, n])
        if n < 65536:
            return bytes([major << 5 | 25]) + struct.pack(">H", n)
        return bytes([major << 5 | 26]) + struct.pack(">I", n)

    if isinstance(value, bool):
        return bytes([0xF5 if value else 0xF4])
    if isinstance(value, int):
        return head(0, value) if value >= 0 else head(1, -1 - value)
    if isinstance(value, str):
        raw = value.encode()
        return head(3, len(raw)) + raw
    if isinstance(value, bytes):
        return head(2, len(value)) + value
    if isinstance(value, list):
        return head(4, len(value)) + b"".join(cbor(v) for v in value)
    if isinstance(value, dict):
        return head(5, len(value)) + b"".join(cbor(k) + cbor(v) for k, v in value.items())
    raise TypeError(value)


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def superbox(label: str, *children: bytes) -> bytes:
    jumd = box(b"jumd", bytes(16) + b"\x03" + label.encode() + b"\0")
    return box(b"jumb", jumd + b"".join(children))


def c2pa_store(claim_generator: str, actions: list[dict[str, object]]) -> bytes:
    assertions = superbox("c2pa.assertions", superbox(
        "c2pa.actions.v2", box(b"cbor", cbor({"actions": actions}))))
    claim = superbox("c2pa.claim", box(b"cbor", cbor({"claim_generator": claim_generator})))
    manifest = superbox("urn:uuid:0000", assertions, claim)
    return superbox("c2pa", manifest)
