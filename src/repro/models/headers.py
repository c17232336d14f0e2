"""Model file headers: safetensors and GGUF, read without loading any tensor.

Both formats put everything but the tensor bytes in a header at the start of
the file, so a model's metadata, tensor table and the offset where tensor
data begins cost one small read. Headers come from files people download, so
every length and count is checked against a limit and against the file size
before anything is allocated or read: a hostile header gives a clear
``InputError`` subclass, never a multi-GB read or a traceback.

Pickle-based checkpoints (``.ckpt``, ``.pt``) are only recognised, never
unpickled: unpickling runs code.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson

from repro import jsonsafe
from repro.errors import InputError, LimitExceeded, NotFound, TruncatedFile
from repro.record.hashes import normalise_hash

#: The reference safetensors parser refuses headers past 100 MB
#: (huggingface/safetensors MAX_HEADER_SIZE).
MAX_SAFETENSORS_HEADER = 100_000_000

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
class TensorInfo:
    """One safetensors tensor: offsets are relative to the data section, end exclusive."""

    dtype: str
    shape: tuple[int, ...]
    data_offsets: tuple[int, int]


@dataclass(frozen=True)
class SafetensorsHeader:
    """The header of a safetensors file.

    ``header_size`` is N, the little-endian u64 of the first 8 bytes;
    ``data_offset`` (8 + N) is where tensor bytes begin and what the AutoV3
    tensor hash skips.
    """

    header_size: int
    data_offset: int
    metadata: dict[str, str]
    tensors: dict[str, TensorInfo]


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
            "items": [_jsonable(v) for v in self.items],
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


def open_binary(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a file for reading, with OS errors turned into repro errors."""
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise NotFound(f"{os.fspath(path)}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{os.fspath(path)}: is a directory, not a model file") from None
    except OSError as exc:
        raise InputError(f"{os.fspath(path)}: cannot read ({exc.strerror})") from None


def _read_exact(f: BinaryIO, n: int, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise TruncatedFile(f"{what}: file ends inside the header")
    return data


# --- safetensors -------------------------------------------------------------

def safetensors_header_size(head: bytes, file_size: int) -> int | None:
    """N if ``head`` (the first 9+ bytes of a file of ``file_size`` bytes) starts a
    plausible safetensors header, else None. No exception: this is a sniff."""
    if len(head) < 9 or head[8:9] != b"{":
        return None
    n = int.from_bytes(head[:8], "little")
    if n < 2 or n > MAX_SAFETENSORS_HEADER or 8 + n > file_size:
        return None
    return n


def read_safetensors_header(path: str | os.PathLike[str]) -> SafetensorsHeader:
    """Read and check the header of a safetensors file (never the tensor bytes).

    Raises ``LimitExceeded`` for a header over 100 MB, ``TruncatedFile`` when
    the header or a tensor's data runs past the end of the file and
    ``InputError`` when the header is not the JSON object the format requires.
    """
    what = os.fspath(path)
    with open_binary(path) as f:
        size = os.fstat(f.fileno()).st_size
        n = int.from_bytes(_read_exact(f, 8, what), "little")
        if n > MAX_SAFETENSORS_HEADER:
            raise LimitExceeded(f"{what}: safetensors header of {n} bytes is over the "
                                f"{MAX_SAFETENSORS_HEADER} byte limit")
        if 8 + n > size:
            raise TruncatedFile(f"{what}: safetensors header of {n} bytes does not fit "
                                f"in a file of {size} bytes")
        raw = _read_exact(f, n, what)
    if not raw.lstrip(b" \t\r\n").startswith(b"{"):
        raise InputError(f"{what}: not a safetensors file (header is not a JSON object)")
    header = jsonsafe.loads(raw, what=f"{what}: safetensors header")
    if not isinstance(header, dict):
        raise InputError(f"{what}: not a safetensors file (header is not a JSON object)")
    data_offset = 8 + n
    data_size = size - data_offset
    metadata: dict[str, str] = {}
    tensors: dict[str, TensorInfo] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            metadata = _metadata_strings(entry, what)
        else:
            tensors[name] = _tensor_info(name, entry, data_size, what)
    return SafetensorsHeader(n, data_offset, metadata, tensors)


def _metadata_strings(entry: Any, what: str) -> dict[str, str]:
    if entry is None:
        return {}
    if not isinstance(entry, dict):
        raise InputError(f"{what}: safetensors __metadata__ is not a JSON object")
    # The format says values are strings; a few writers put numbers or objects
    # there. Keep them as JSON text rather than refusing a usable file.
    return {str(k): v if isinstance(v, str) else orjson.dumps(v).decode()
            for k, v in entry.items()}


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _tensor_info(name: str, entry: Any, data_size: int, what: str) -> TensorInfo:
    if not isinstance(entry, dict):
        raise InputError(f"{what}: safetensors tensor {name!r} is not a JSON object")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if not isinstance(dtype, str):
        raise InputError(f"{what}: safetensors tensor {name!r} has no dtype")
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
        raise InputError(f"{what}: safetensors tensor {name!r} has a bad shape")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(_is_int(o) for o in offsets) or not 0 <= offsets[0] <= offsets[1]):
        raise InputError(f"{what}: safetensors tensor {name!r} has bad data_offsets")
    if offsets[1] > data_size:
        raise TruncatedFile(f"{what}: tensor {name!r} ends at byte {offsets[1]} of a data "
                            f"section of {data_size} bytes (truncated download?)")
    return TensorInfo(dtype, tuple(shape), (offsets[0], offsets[1]))


# --- GGUF --------------------------------------------------------------------

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
        data = _read_exact(self.f, n, self.what)
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
    if not _is_int(alignment) or not 0 < alignment <= MAX_GGUF_ALIGNMENT:
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


# --- sniffing and summaries ----------------------------------------------------

def sniff_model(path: str | os.PathLike[str]) -> str | None:
    """The container of a model file from its first bytes.

    "safetensors", "gguf", "pickle" (a PyTorch zip archive or a bare pickle,
    as ``.ckpt``/``.pt``/``.pth``/``.bin`` files are) or None.
    """
    with open_binary(path) as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(16)
    if head[:4] == GGUF_MAGIC:
        return "gguf"
    if safetensors_header_size(head, size) is not None:
        return "safetensors"
    if head[:4] == b"PK\x03\x04":
        return "pickle"
    # Pickle protocol 2+ starts with PROTO (0x80) and the protocol number.
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "pickle"
    return None


def _guess_architecture(names: list[str]) -> str | None:
    """An architecture from tensor-name signatures, most specific first."""

    def has(fragment: str) -> bool:
        return any(fragment in n for n in names)

    def starts(prefix: str) -> bool:
        return any(n.startswith(prefix) for n in names)

    if starts("lora_unet_") or starts("lora_te") or has(".lora_down.") or has(".lora_A."):
        return "lora"
    if set(names) & {"emb_params", "string_to_param"} or set(names) == {"clip_l", "clip_g"}:
        return "textual-inversion"
    if has("double_blocks.") and has("single_blocks."):
        return "flux"
    if has("joint_blocks."):
        return "stable-diffusion-3"
    if starts("model.diffusion_model."):
        if starts("conditioner.embedders.1."):
            return "stable-diffusion-xl"
        return "stable-diffusion"
    if starts("encoder.down.") and starts("decoder.up."):
        return "vae"
    return None


def model_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A JSON-able summary of a model file, for ``repro models --json``.

    Keys: ``format`` (see ``sniff_model``), ``architecture``,
    ``architecture_source`` (the metadata key it came from, or ``"guess"``
    when it was guessed from tensor names), ``metadata``, ``tensor_count``,
    ``data_offset``. Pickle files are never unpickled: only ``format`` is known.
    """
    fmt = sniff_model(path)
    info: dict[str, Any] = {
        "format": fmt, "architecture": None, "architecture_source": None,
        "metadata": {}, "tensor_count": None, "data_offset": None,
    }
    names: list[str] = []
    sources: list[tuple[str, Any]] = []
    if fmt == "safetensors":
        st = read_safetensors_header(path)
        info.update(metadata=st.metadata, tensor_count=len(st.tensors),
                    data_offset=st.data_offset)
        names = list(st.tensors)
        sources = [(k, st.metadata.get(k)) for k in
                   ("modelspec.architecture", "ss_base_model_version")]
    elif fmt == "gguf":
        gg = read_gguf_header(path)
        info.update(metadata={k: _jsonable(v) for k, v in gg.metadata.items()},
                    tensor_count=gg.tensor_count, data_offset=gg.data_offset)
        names = [t.name for t in gg.tensors]
        sources = [("general.architecture", gg.metadata.get("general.architecture"))]
    for key, value in sources:
        if isinstance(value, str) and value.strip():
            info.update(architecture=value.strip(), architecture_source=key)
            return info
    guess = _guess_architecture(names)
    if guess is not None:
        info.update(architecture=guess, architecture_source="guess")
    return info


def _jsonable(value: Any) -> Any:
    if isinstance(value, GGUFArray):
        return value.to_dict()
    return value


def base_model_refs(metadata: dict[str, str]) -> dict[str, str]:
    """The base checkpoint a kohya-trained LoRA names in its metadata.

    ``{"autov1": ss_sd_model_hash, "sha256": ss_new_sd_model_hash,
    "name": ss_sd_model_name}``, each only when present and well formed
    (hashes lower-cased; kohya writes empty strings or "None" when unknown).
    This is the lineage edge LoRA -> base model.
    """
    refs: dict[str, str] = {}
    autov1 = normalise_hash(metadata.get("ss_sd_model_hash"), lengths=(8,))
    if autov1:
        refs["autov1"] = autov1
    sha = normalise_hash(metadata.get("ss_new_sd_model_hash"), lengths=(64,))
    if sha:
        refs["sha256"] = sha
    name = (metadata.get("ss_sd_model_name") or "").strip()
    if name and name != "None":
        refs["name"] = name
    return refs
