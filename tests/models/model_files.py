"""Builders for small model files written by the tests themselves."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

#: FORMATS.md §2 test vector: 3 MiB of data as one F32 tensor ``w``.
VECTOR_DATA_LEN = 3 * 1024 * 1024


def vector_data() -> bytes:
    return bytes((i * 7 + 3) % 251 for i in range(VECTOR_DATA_LEN))


def vector_safetensors(path: Path, title: str = "demo", data: bytes | None = None) -> Path:
    """The FORMATS.md §2 test-vector file, byte for byte."""
    header = {
        "__metadata__": {"ss_output_name": "demo", "modelspec.title": title},
        "w": {"dtype": "F32", "shape": [786432], "data_offsets": [0, VECTOR_DATA_LEN]},
    }
    raw = json.dumps(header, separators=(",", ":")).encode().ljust(136, b" ")
    assert len(raw) == 136
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + (data or vector_data()))
    return path


def safetensors_bytes(tensors: dict[str, tuple[str, list[int], bytes]],
                      metadata: dict[str, Any] | None = None, pad: int = 0) -> bytes:
    """A safetensors file from name -> (dtype, shape, raw bytes)."""
    header: dict[str, Any] = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    blob = b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(blob), len(blob) + len(raw)]}
        blob += raw
    text = json.dumps(header, separators=(",", ":")).encode() + b" " * pad
    return struct.pack("<Q", len(text)) + text + blob


# --- GGUF ------------------------------------------------------------------------

U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
_FMT = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f",
        BOOL: "<?", U64: "<Q", I64: "<q", F64: "<d"}


def gguf_string(s: str | bytes) -> bytes:
    raw = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(raw)) + raw


def gguf_value(vtype: int, value: Any) -> bytes:
    if vtype == STRING:
        return gguf_string(value)
    if vtype == ARRAY:
        item_type, items = value
        return (struct.pack("<IQ", item_type, len(items))
                + b"".join(gguf_value(item_type, v) for v in items))
    return struct.pack(_FMT[vtype], value)


def gguf_bytes(kvs: list[tuple[str, int, Any]],
               tensors: list[tuple[str, list[int], int, int]],
               data: bytes = b"", *, version: int = 3, alignment: int = 32) -> bytes:
    """A GGUF file: KV pairs (key, type, value), tensor infos (name, dims,
    ggml_type, offset), padding to ``alignment``, then ``data``."""
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs))
    for key, vtype, value in kvs:
        out += gguf_string(key) + struct.pack("<I", vtype) + gguf_value(vtype, value)
    for name, dims, ggml_type, offset in tensors:
        out += gguf_string(name) + struct.pack("<I", len(dims))
        out += struct.pack(f"<{len(dims)}Q", *dims) + struct.pack("<IQ", ggml_type, offset)
    out += b"\0" * (-len(out) % alignment)
    return out + data
