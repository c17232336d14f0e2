"""Model file headers: safetensors (GGUF in ``models.gguf``), read without loading any tensor.

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
from dataclasses import dataclass
from typing import Any

import orjson

from repro import jsonsafe
from repro.errors import InputError, LimitExceeded, TruncatedFile
from repro.models.binary import is_int, open_binary, read_exact
from repro.models.gguf import GGUF_MAGIC, GGUFArray, GGUFHeader, GGUFTensor, read_gguf_header
from repro.record.hashes import normalise_hash

#: The reference safetensors parser refuses headers past 100 MB
#: (huggingface/safetensors MAX_HEADER_SIZE).
MAX_SAFETENSORS_HEADER = 100_000_000

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
        n = int.from_bytes(read_exact(f, 8, what), "little")
        if n > MAX_SAFETENSORS_HEADER:
            raise LimitExceeded(f"{what}: safetensors header of {n} bytes is over the "
                                f"{MAX_SAFETENSORS_HEADER} byte limit")
        if 8 + n > size:
            raise TruncatedFile(f"{what}: safetensors header of {n} bytes does not fit "
                                f"in a file of {size} bytes")
        raw = read_exact(f, n, what)
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


def _tensor_info(name: str, entry: Any, data_size: int, what: str) -> TensorInfo:
    if not isinstance(entry, dict):
        raise InputError(f"{what}: safetensors tensor {name!r} is not a JSON object")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if not isinstance(dtype, str):
        raise InputError(f"{what}: safetensors tensor {name!r} has no dtype")
    if not isinstance(shape, list) or not all(is_int(d) and d >= 0 for d in shape):
        raise InputError(f"{what}: safetensors tensor {name!r} has a bad shape")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(is_int(o) for o in offsets) or not 0 <= offsets[0] <= offsets[1]):
        raise InputError(f"{what}: safetensors tensor {name!r} has bad data_offsets")
    if offsets[1] > data_size:
        raise TruncatedFile(f"{what}: tensor {name!r} ends at byte {offsets[1]} of a data "
                            f"section of {data_size} bytes (truncated download?)")
    return TensorInfo(dtype, tuple(shape), (offsets[0], offsets[1]))


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


__all__ = [
    "GGUF_MAGIC", "GGUFArray", "GGUFHeader", "GGUFTensor", "SafetensorsHeader", "TensorInfo",
    "base_model_refs", "model_info", "open_binary", "read_exact", "read_gguf_header",
    "read_safetensors_header", "safetensors_header_size", "sniff_model",
]
