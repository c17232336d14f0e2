"""GGUF headers (versions 2 and 3), read without loading any tensor.

Every length and count is checked against a limit and against the file size
before anything is allocated or read: a hostile header gives a clear
``InputError`` subclass, never a multi-GB read or a traceback.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import Any, BinaryIO

from repro.errors import InputError, LimitExceeded, TruncatedFile
from repro.models.binary import is_int, open_binary, read_exact

GGUF_MAGIC = b"GGUF"
GGUF_DEFAULT_ALIGNMENT = 32
#: Items kept of each GGUF metadata array (tokenizer vocabularies run to 250k).
MAX_ARRAY_ITEMS = 64
MAX_GGUF_COUNT = 1_000_000
MAX_GGUF_KEY = 65_535
MAX_GGUF_STRING = 16 * 1024 * 1024
#: Bytes of strings kept in memory over a whole GGUF header.
MAX_GGUF_KEPT_BYTES = 64 * 1024 * 1024
#: Array elements walked one by one (strings, nested arrays) over a whole header.
MAX_GGUF_WALKED_ITEMS = 20_000_000
MAX_GGUF_DIMS = 16
MAX_GGUF_ALIGNMENT = 1 << 20
#: Arrays of arrays are legal GGUF; deeper nesting than this is not seen in practice.
MAX_GGUF_DEPTH = 3

_GGUF_ARRAY = 9
_GGUF_STRING = 8
#: value_type -> struct format of the fixed-size GGUF scalar types.
_GGUF_SCALARS = {
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
    10: "<Q", 11: "<q", 12: "<d",
}
GGUF_TYPE_NAMES = {
    0: "uint8", 1: "int8", 2: "uint16", 3: "int16", 4: "uint32", 5: "int32",
    6: "float32", 7: "bool", 8: "string", 9: "array", 10: "uint64", 11: "int64",
    12: "float64",
}


@dataclass(frozen=True)
class GGUFArray:
    """A GGUF metadata array: its full ``length`` and at most ``MAX_ARRAY_ITEMS`` items."""

    item_type: int
    length: int
    items: tuple[Any, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": GGUF_TYPE_NAMES.get(self.item_type, str(self.item_type)),
            "length": self.length,
            "items": [v.to_dict() if isinstance(v, GGUFArray) else v for v in self.items],
            "truncated": self.length > len(self.items),
        }


@dataclass(frozen=True)
class GGUFTensor:
    """One GGUF tensor info: ``offset`` is relative to ``GGUFHeader.data_offset``."""

    name: str
    shape: tuple[int, ...]
    ggml_type: int
    offset: int


@dataclass(frozen=True)
class GGUFHeader:
    """The header of a GGUF file (versions 2 and 3)."""

    version: int
    tensor_count: int
    metadata: dict[str, Any]
    tensors: tuple[GGUFTensor, ...]
    alignment: int
    data_offset: int


class _GGUFReader:
    """Sequential little-endian reads with every length checked before use."""

    def __init__(self, f: BinaryIO, size: int, what: str) -> None:
        self.f = f
        self.size = size
        self.what = what
        self.pos = 0
        self.kept_bytes = 0
        self.walked_items = 0

    def remaining(self) -> int:
        return self.size - self.pos

    def read(self, n: int) -> bytes:
        if n > self.remaining():
            raise TruncatedFile(f"{self.what}: GGUF header wants {n} bytes at offset "
                                f"{self.pos}, the file ends at {self.size}")
        data = read_exact(self.f, n, self.what)
        self.pos += n
        return data

    def skip(self, n: int) -> None:
        if n > self.remaining():
            raise TruncatedFile(f"{self.what}: GGUF header skips past the end of the file")
        self.f.seek(n, os.SEEK_CUR)
        self.pos += n

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]

    def u32(self) -> int:
        return int(self.unpack("<I"))

    def u64(self) -> int:
        return int(self.unpack("<Q"))

    def count(self, what: str, min_item_size: int) -> int:
        """A u64 count of things each at least ``min_item_size`` bytes long."""
        n = self.u64()
        if n > MAX_GGUF_COUNT:
            raise LimitExceeded(f"{self.what}: GGUF {what} count {n} is over the "
                                f"{MAX_GGUF_COUNT} limit")
        if n * min_item_size > self.remaining():
            raise TruncatedFile(f"{self.what}: GGUF {what} count {n} cannot fit in the file")
        return n

    def string_length(self, limit: int) -> int:
        n = self.u64()
        if n > limit:
            raise LimitExceeded(f"{self.what}: GGUF string of {n} bytes at offset "
                                f"{self.pos - 8} is over the {limit} byte limit")
        if n > self.remaining():
            raise TruncatedFile(f"{self.what}: GGUF string of {n} bytes runs past the end")
        return n

    def string(self, limit: int = MAX_GGUF_STRING) -> str:
        n = self.string_length(limit)
        self.kept_bytes += n
        if self.kept_bytes > MAX_GGUF_KEPT_BYTES:
            raise LimitExceeded(f"{self.what}: GGUF header holds over "
                                f"{MAX_GGUF_KEPT_BYTES} bytes of strings")
        return self.read(n).decode("utf-8", errors="replace")

    def skip_string(self) -> None:
        self.skip(self.string_length(self.size))

    def value(self, vtype: int, depth: int = 0) -> Any:
        fmt = _GGUF_SCALARS.get(vtype)
        if fmt is not None:
            return self.unpack(fmt)
        if vtype == _GGUF_STRING:
            return self.string()
        if vtype == _GGUF_ARRAY:
            return self.array(depth + 1)
        raise InputError(f"{self.what}: unknown GGUF value type {vtype} at offset {self.pos - 4}")

    def array(self, depth: int) -> GGUFArray:
        if depth > MAX_GGUF_DEPTH:
            raise LimitExceeded(f"{self.what}: GGUF arrays nested over {MAX_GGUF_DEPTH} deep")
        item_type = self.u32()
        fmt = _GGUF_SCALARS.get(item_type)
        if fmt is None and item_type not in (_GGUF_STRING, _GGUF_ARRAY):
            raise InputError(f"{self.what}: unknown GGUF array item type {item_type}")
        item_size = struct.calcsize(fmt) if fmt else (8 if item_type == _GGUF_STRING else 12)
        # Not self.count(): a vocabulary array is legitimately longer than MAX_GGUF_COUNT
        # would allow for tensors; the file size is the real bound here.
        length = self.u64()
        if length * item_size > self.remaining():
            raise TruncatedFile(f"{self.what}: GGUF array of {length} items cannot fit "
                                "in the file")
        kept = min(length, MAX_ARRAY_ITEMS)
        items = tuple(self.value(item_type, depth) for _ in range(kept))
        rest = length - kept
        if fmt is not None:
            self.skip(rest * struct.calcsize(fmt))
        elif rest:
            # Strings and arrays have a length per item, so they must be walked.
            self.walked_items += rest
            if self.walked_items > MAX_GGUF_WALKED_ITEMS:
                raise LimitExceeded(f"{self.what}: GGUF arrays hold over "
                                    f"{MAX_GGUF_WALKED_ITEMS} items")
            for _ in range(rest):
                if item_type == _GGUF_STRING:
                    self.skip_string()
                else:
                    self.array(depth)
        return GGUFArray(item_type, length, items)


def read_gguf_header(path: str | os.PathLike[str]) -> GGUFHeader:
    """Read the header of a GGUF file (v2/v3): metadata, tensor infos, data offset.

    Arrays keep their first ``MAX_ARRAY_ITEMS`` items and their full length.
    Every count and length is checked against a limit and the file size before
    use: ``LimitExceeded``, ``TruncatedFile`` or ``InputError`` otherwise.
    """
    what = os.fspath(path)
    with open_binary(path) as f:
        size = os.fstat(f.fileno()).st_size
        if f.read(4) != GGUF_MAGIC:
            raise InputError(f"{what}: not a GGUF file (no GGUF magic)")
        r = _GGUFReader(f, size, what)
        r.pos = 4
        version = r.u32()
        if version not in (2, 3):
            # Version 1 used 32-bit counts and lengths; it predates diffusion GGUFs.
            raise InputError(f"{what}: GGUF version {version} is not supported (2 and 3 are)")
        # Smallest tensor info: name length 8, n_dims 4, ggml_type 4, offset 8.
        tensor_count = r.count("tensor", 24)
        # Smallest KV pair: key length 8, value type 4, a one-byte value.
        kv_count = r.count("metadata", 13)
        metadata: dict[str, Any] = {}
        for _ in range(kv_count):
            key = r.string(MAX_GGUF_KEY)
            metadata[key] = r.value(r.u32())
        tensors = []
        for _ in range(tensor_count):
            name = r.string(MAX_GGUF_KEY)
            n_dims = r.u32()
            if n_dims > MAX_GGUF_DIMS:
                raise LimitExceeded(f"{what}: GGUF tensor {name!r} has {n_dims} dimensions")
            shape = struct.unpack(f"<{n_dims}Q", r.read(8 * n_dims))
            ggml_type = r.u32()
            offset = r.u64()
            tensors.append(GGUFTensor(name, shape, ggml_type, offset))
    alignment = metadata.get("general.alignment", GGUF_DEFAULT_ALIGNMENT)
    if not is_int(alignment) or not 0 < alignment <= MAX_GGUF_ALIGNMENT:
        raise InputError(f"{what}: GGUF general.alignment {alignment!r} is not usable")
    data_offset = -(-r.pos // alignment) * alignment
    if tensors:
        if data_offset > size:
            raise TruncatedFile(f"{what}: GGUF tensor data starts past the end of the file")
        last = max(t.offset for t in tensors)
        if last > size - data_offset:
            raise TruncatedFile(f"{what}: GGUF tensor at data offset {last} is past the "
                                "end of the file (truncated download?)")
    return GGUFHeader(version, tensor_count, metadata, tuple(tensors), alignment, data_offset)
