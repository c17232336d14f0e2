"""An XMP packet naming the IPTC digital source type, written into a PNG, JPEG
or WebP copy at the byte level (the image data is never re-encoded).

Readers that do not read C2PA still learn the file is AI-made: IPTC's
``Iptc4xmpExt:DigitalSourceType`` with the ``trainedAlgorithmicMedia`` code.
"""

from __future__ import annotations

import struct
import zlib

from repro.errors import InputError

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED = IPTC + "trainedAlgorithmicMedia"
COMPOSITE = IPTC + "compositeWithTrainedAlgorithmicMedia"

_JPEG_XMP = b"http://ns.adobe.com/xap/1.0/\x00"


def packet(source_type: str, *, tool: str | None = None) -> bytes:
    """A small XMP packet with the digital source type (and the creator tool)."""
    creator = f'\n   xmp:CreatorTool="{_attr(tool)}"' if tool else ""
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '   xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"\n'
        '   xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        f'   Iptc4xmpExt:DigitalSourceType="{_attr(source_type)}"{creator}/>\n'
        ' </rdf:RDF>\n'
        '</x:xmpmeta>\n'
        '<?xpacket end="w"?>'
    ).encode()


def _attr(text: str) -> str:
    return (text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
            .replace(">", "&gt;"))


def with_xmp(data: bytes, media_type: str, xmp: bytes) -> bytes:
    """``data`` with ``xmp`` added (an existing XMP packet is left where it is and
    the new one is added; readers take the last PNG iTXt and the first JPEG APP1)."""
    if media_type == "image/png":
        return _png(data, xmp)
    if media_type == "image/jpeg":
        return _jpeg(data, xmp)
    if media_type == "image/webp":
        return _webp(data, xmp)
    raise InputError(f"cannot write XMP into {media_type}")


def _png(data: bytes, xmp: bytes) -> bytes:
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise InputError("not a PNG file")
    body = b"iTXt" + b"XML:com.adobe.xmp\x00" + b"\x00\x00" + b"\x00\x00" + xmp
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
    # After IHDR, so that it comes before the image data as the XMP spec asks.
    ihdr_end = 8 + 8 + struct.unpack(">I", data[8:12])[0] + 4
    return data[:ihdr_end] + chunk + data[ihdr_end:]


def _jpeg(data: bytes, xmp: bytes) -> bytes:
    if data[:2] != b"\xff\xd8":
        raise InputError("not a JPEG file")
    payload = _JPEG_XMP + xmp
    if len(payload) + 2 > 0xFFFF:
        raise InputError("XMP packet too large for a JPEG segment")
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    pos = 2
    # After the JFIF/EXIF application segments that must come first.
    while data[pos:pos + 2] in (b"\xff\xe0", b"\xff\xe1"):
        pos += 2 + struct.unpack(">H", data[pos + 2:pos + 4])[0]
    return data[:pos] + segment + data[pos:]


def _webp(data: bytes, xmp: bytes) -> bytes:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise InputError("not a WebP file")
    chunks = _riff_chunks(data)
    xmp_chunk = b"XMP " + struct.pack("<I", len(xmp)) + xmp + (b"\x00" if len(xmp) % 2 else b"")
    first = chunks[0]
    if first[0] == b"VP8X":
        flags = first[1][0] | 0x04  # the XMP bit
        head = b"VP8X" + struct.pack("<I", 10) + bytes([flags]) + first[1][1:10]
        rest = b"".join(_chunk(tag, body) for tag, body in chunks[1:])
    else:
        width, height = _simple_size(first)
        head = (b"VP8X" + struct.pack("<I", 10) + bytes([0x04, 0, 0, 0])
                + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little"))
        rest = b"".join(_chunk(tag, body) for tag, body in chunks)
    body = b"WEBP" + head + rest + xmp_chunk
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _riff_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, pos = [], 12
    while pos + 8 <= len(data):
        tag, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if pos + 8 + size > len(data):
            raise InputError("WebP chunk runs past the end of the file")
        chunks.append((tag, data[pos + 8:pos + 8 + size]))
        pos += 8 + size + (size & 1)
    if not chunks:
        raise InputError("WebP file without chunks")
    return chunks


def _chunk(tag: bytes, body: bytes) -> bytes:
    return tag + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) & 1 else b"")


def _simple_size(chunk: tuple[bytes, bytes]) -> tuple[int, int]:
    tag, body = chunk
    if tag == b"VP8 " and len(body) >= 10 and body[3:6] == b"\x9d\x01\x2a":
        w, h = struct.unpack("<HH", body[6:10])
        return w & 0x3FFF, h & 0x3FFF
    if tag == b"VP8L" and len(body) >= 5 and body[0] == 0x2F:
        bits = int.from_bytes(body[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    raise InputError("WebP image chunk not understood")
