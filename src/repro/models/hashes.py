"""Every model hash the image-generation ecosystem records, in one read pass.

repro identifies a model by the BLAKE3 of its bytes. Images name models by
other hashes (FORMATS.md §2): A1111's AutoV1 (SHA-256 of 64 KiB at 1 MiB)
and AutoV2 (SHA-256 prefix), the AutoV3 / addnet / SwarmUI tensor hash
(SHA-256 of everything after the safetensors header), InvokeAI's BLAKE3,
Civitai's CRC32. ``compute_hashes`` feeds each requested hasher from one
streaming read, so a 10 GB checkpoint is read once whatever is asked;
``match_recorded`` decides whether a hash written in an image names a file.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from repro.errors import InputError, UsageError
from repro.models.headers import (
    GGUF_MAGIC,
    open_binary,
    read_gguf_header,
    safetensors_header_size,
)
from repro.objects import hashing
from repro.record.hashes import HEX_DIGITS, MIN_PREFIX, normalise_hash

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

SCHEMES = ("blake3", "sha256", "autov1", "tensor_sha256", "crc32")

AUTOV1_OFFSET = 0x100000
AUTOV1_LENGTH = 0x10000
# Civitai's scanner returns null AutoV1 below 2 MiB (minFileSize = 0x100000 * 2).
# The other tools disagree: A1111 hashes whatever read() returns (sha256(b"")
# -> e3b0c442 for a file under 1 MiB) and DiffusionToolkit hashes a zero-padded
# 64 KiB buffer. Three answers for the same small file; we follow Civitai and
# give none, since no real checkpoint is that small.
AUTOV1_MIN_SIZE = 2 * 0x100000


class _Hasher(Protocol):
    def update(self, data: Any, /) -> object: ...
    def hexdigest(self) -> str: ...


class _Crc32:
    """zlib.crc32 behind the hashlib interface; hex in conventional big-endian order."""

    def __init__(self) -> None:
        self.value = 0

    def update(self, data: Any) -> None:
        self.value = zlib.crc32(data, self.value)

    def hexdigest(self) -> str:
        return f"{self.value:08x}"


@dataclass
class _Sink:
    """A hasher fed the bytes of the file between ``start`` and ``end`` (None: EOF)."""

    scheme: str
    hasher: _Hasher
    start: int = 0
    end: int | None = None
    #: Rough CPU seconds per GB, to balance the two lanes.
    cost: float = 1.0

    def feed(self, view: memoryview, pos: int) -> None:
        lo = max(self.start - pos, 0)
        hi = len(view) if self.end is None else min(self.end - pos, len(view))
        if lo < hi:
            self.hasher.update(view[lo:hi])


def _check_schemes(schemes: Iterable[str]) -> set[str]:
    wanted = set(schemes)
    unknown = wanted - set(SCHEMES)
    if unknown:
        raise UsageError(f"unknown hash scheme(s) {sorted(unknown)}; known: {', '.join(SCHEMES)}")
    return wanted


def tensor_data_offset(f: Any, path: str | os.PathLike[str]) -> int | None:
    """Where tensor data starts in the open model file ``f`` (at ``path``): 8 + N for
    safetensors, the aligned data offset for GGUF, None for anything else (or a
    GGUF whose header cannot be read)."""
    size = os.fstat(f.fileno()).st_size
    head = os.pread(f.fileno(), 16, 0)
    n = safetensors_header_size(head, size)
    if n is not None:
        return 8 + n
    if head[:4] == GGUF_MAGIC:
        try:
            return read_gguf_header(path).data_offset
        except InputError:
            return None
    return None


def compute_hashes(path: str | os.PathLike[str], schemes: Iterable[str], *,
                   progress: Callable[[int], None] | None = None) -> dict[str, str]:
    """Hash a model file with every requested scheme in one read pass.

    ``schemes`` is a subset of ``SCHEMES``. The result maps scheme -> lower-case
    hex: ``blake3`` and ``sha256`` of the whole file (64 hex); ``autov1`` (8 hex,
    SHA-256 of the 64 KiB at offset 1 MiB); ``tensor_sha256`` (64 hex, SHA-256 of
    the bytes after the safetensors header at 8 + N, i.e. AutoV3; for GGUF it is
    taken from the tensor-data offset, a repro convention since the ecosystem
    has no GGUF tensor hash); ``crc32`` (8 hex, conventional order, see
    ``civitai_crc32`` for Civitai's display). Schemes that do not apply are
    absent: ``tensor_sha256`` for files that are neither safetensors nor
    readable GGUF, ``autov1`` for files under 2 MiB. ``progress`` is called
    with the number of bytes just processed. Memory stays flat: the file is
    streamed in ``hashing.CHUNK`` pieces.
    """
    wanted = _check_schemes(schemes)
    if not wanted:
        return {}
    with open_binary(path) as f:
        tensor_offset = tensor_data_offset(f, path) if "tensor_sha256" in wanted else None
        size = os.fstat(f.fileno()).st_size
        if wanted == {"autov1"}:
            return _autov1_only(f, size, progress)
        sinks = _sinks(path, wanted, size, tensor_offset)
        total = _stream(f, sinks, size, progress)
    return _results(sinks, total)


def _results(sinks: list[_Sink], total: int) -> dict[str, str]:
    result = {}
    for sink in sinks:
        if sink.scheme == "autov1":
            if total >= AUTOV1_MIN_SIZE:
                result["autov1"] = sink.hasher.hexdigest()[:8]
        elif sink.scheme != "tensor_sha256" or sink.start <= total:
            result[sink.scheme] = sink.hasher.hexdigest()
    return result


class HashTap:
    """Hashes of a model file computed from bytes another pass reads (the copy
    into the store): ``feed(view, pos)`` with every chunk, in order, then
    ``result()``. Same results as ``compute_hashes`` for the same schemes."""

    def __init__(self, path: str | os.PathLike[str], schemes: Iterable[str]):
        wanted = _check_schemes(schemes)
        with open_binary(path) as f:
            tensor_offset = tensor_data_offset(f, path) if "tensor_sha256" in wanted else None
            size = os.fstat(f.fileno()).st_size
        self.sinks = _sinks(path, wanted, size, tensor_offset)
        self.total = 0

    def feed(self, view: memoryview, pos: int) -> None:
        for sink in self.sinks:
            sink.feed(view, pos)
        self.total = max(self.total, pos + len(view))

    def result(self) -> dict[str, str]:
        return _results(self.sinks, self.total)


def _autov1_only(f: Any, size: int, progress: Callable[[int], None] | None) -> dict[str, str]:
    # AutoV1 needs 64 KiB, not a pass over the file.
    if size < AUTOV1_MIN_SIZE:
        return {}
    f.seek(AUTOV1_OFFSET)
    data = f.read(AUTOV1_LENGTH)
    if progress:
        progress(len(data))
    return {"autov1": hashlib.sha256(data).hexdigest()[:8]}


def _sinks(path: str | os.PathLike[str], wanted: set[str], size: int,
           tensor_offset: int | None) -> list[_Sink]:
    sinks = []
    if "blake3" in wanted:
        blake = hashing.new_hasher(size)
        sinks.append(_Sink("blake3", blake, cost=0.2))
    if "sha256" in wanted:
        sinks.append(_Sink("sha256", hashlib.sha256()))
    if "tensor_sha256" in wanted and tensor_offset is not None:
        sinks.append(_Sink("tensor_sha256", hashlib.sha256(), start=tensor_offset))
    if "crc32" in wanted:
        sinks.append(_Sink("crc32", _Crc32(), cost=0.5))
    if "autov1" in wanted:
        sinks.append(_Sink("autov1", hashlib.sha256(), start=AUTOV1_OFFSET,
                           end=AUTOV1_OFFSET + AUTOV1_LENGTH, cost=0.0))
    return sinks


def _lanes(sinks: list[_Sink]) -> tuple[list[_Sink], list[_Sink]]:
    """Split sinks into two lanes of about equal cost (greedy, heaviest first)."""
    lanes: tuple[list[_Sink], list[_Sink]] = ([], [])
    loads = [0.0, 0.0]
    for sink in sorted(sinks, key=lambda s: -s.cost):
        i = 0 if loads[0] <= loads[1] else 1
        lanes[i].append(sink)
        loads[i] += sink.cost
    return lanes


def _stream(f: Any, sinks: list[_Sink], size: int,
            progress: Callable[[int], None] | None) -> int:
    """Feed every sink from one read of ``f``; returns the bytes read."""
    main, other = _lanes(sinks)
    # hashlib, zlib and blake3 release the GIL on large buffers, so two SHA-256s
    # (whole file and tensor data) can run on two cores. Worth a thread only
    # when the second lane has real work and the file is not tiny.
    parallel = (size >= hashing.THREADS_MIN_BYTES and (os.cpu_count() or 1) > 1
                and sum(s.cost for s in other) >= 0.5)
    pool: ThreadPoolExecutor | None = None
    if parallel:
        from concurrent.futures import ThreadPoolExecutor  # 2.5 ms to import: only when used

        pool = ThreadPoolExecutor(max_workers=1)
    if pool is None:
        main, other = sinks, []

    def feed(lane: list[_Sink], view: memoryview, pos: int) -> None:
        for sink in lane:
            sink.feed(view, pos)

    pos = 0
    try:
        # hashing.CHUNK is read at call time so tests can shrink it.
        for view in hashing.iter_chunks(f, hashing.CHUNK):
            # The chunk buffer is reused by the next read: the other lane must
            # be done with it before the loop goes on.
            pending = pool.submit(feed, other, view, pos) if pool else None
            feed(main, view, pos)
            if pending is not None:
                pending.result()
            pos += len(view)
            if progress:
                progress(len(view))
    finally:
        if pool is not None:
            pool.shutdown()
    return pos


def civitai_crc32(crc_hex: str) -> str:
    """Civitai's display of a CRC32: the digest bytes reversed, upper-case.

    ``civitai_crc32("0d4a1185") == "85114A0D"`` (the CRC32 of ``hello world``).
    """
    v = crc_hex.strip().lower()
    if len(v) != 8 or not set(v) <= HEX_DIGITS:
        raise InputError(f"{crc_hex!r} is not an 8-hex CRC32")
    return bytes.fromhex(v)[::-1].hex().upper()


def short_forms(hashes: dict[str, str]) -> dict[str, str]:
    """The short forms tools write, from ``compute_hashes`` output.

    ``autov2`` (sha256[:10]: A1111 ``Model hash``, Fooocus, ComfyUI savers),
    ``sha256_12`` (A1111 ``TI hashes``), ``lora12`` (tensor_sha256[:12]: A1111
    ``Lora hashes``), ``autov3`` (= tensor_sha256) and ``swarm`` (``0x`` +
    tensor_sha256). Forms whose source hash is absent are absent.
    """
    out: dict[str, str] = {}
    sha = hashes.get("sha256")
    if sha:
        out["autov2"] = sha[:10]
        out["sha256_12"] = sha[:12]
    tensor = hashes.get("tensor_sha256")
    if tensor:
        out["lora12"] = tensor[:12]
        out["autov3"] = tensor
        out["swarm"] = "0x" + tensor
    return out


# What a recorded scheme may really be: tools disagree on what a 10/12-hex
# LoRA hash means (A1111 uses the tensor hash for .safetensors LoRAs and the
# file hash otherwise; Fooocus and ComfyUI savers use the file hash), so a
# SHA-256 prefix is tried against both (FORMATS.md "A resolver must try both").
_FILE_OR_TENSOR = ("sha256", "tensor_sha256")
_TENSOR_OR_FILE = ("tensor_sha256", "sha256")
_CANDIDATES: dict[str, tuple[str, ...]] = {
    "sha256": _FILE_OR_TENSOR, "autov2": _FILE_OR_TENSOR, "sha256_12": _FILE_OR_TENSOR,
    "tensor_sha256": _TENSOR_OR_FILE, "autov3": _TENSOR_OR_FILE, "lora12": _TENSOR_OR_FILE,
    "swarm": _TENSOR_OR_FILE, "addnet": _TENSOR_OR_FILE, "sshs_model_hash": _TENSOR_OR_FILE,
    "autov1": ("autov1",), "sshs_legacy_hash": ("autov1",),
    "blake3": ("blake3",), "crc32": ("crc32",),
}
#: For a recorded hash whose scheme is not known: everything but CRC32.
_ANY = ("sha256", "tensor_sha256", "blake3", "autov1")


def _candidates(scheme: str, value: str) -> tuple[str, ...]:
    found = _CANDIDATES.get(scheme.strip().lower(), _ANY)
    # AutoV1 is exactly 8 hex: nothing longer can be one.
    return tuple(c for c in found if c != "autov1" or len(value) == 8)


def match_recorded(recorded: dict[str, str], computed: dict[str, str]) -> str | None:
    """Which computed scheme a hash recorded in an image matches, or None.

    ``recorded`` maps scheme -> hex as a tool wrote it: full or a prefix of 8+
    hex, any case, ``0x``- or ``blake3:``-prefixed. Known schemes are those of
    ``SCHEMES`` plus the short-form names of ``short_forms`` and kohya's
    ``sshs_model_hash``/``sshs_legacy_hash``; an unknown scheme name is tried
    against every hash. A recorded SHA-256 prefix is also tried against the
    tensor hash and vice versa. Prefixes under 8 hex never match.
    """
    for scheme, raw in recorded.items():
        value = normalise_hash(raw, min_length=MIN_PREFIX)
        if value is None:
            continue
        for candidate in _candidates(scheme, value):
            have = computed.get(candidate)
            if not have:
                continue
            if candidate == "crc32":
                # Civitai displays the bytes reversed; accept either order.
                if len(value) == 8 and value in (have, civitai_crc32(have).lower()):
                    return candidate
            elif have.startswith(value):
                return candidate
    return None


def needed_schemes(recorded: dict[str, str]) -> set[str]:
    """The schemes ``compute_hashes`` must produce to check ``recorded`` with
    ``match_recorded`` (so SHA-256 is computed only when something needs it)."""
    needed: set[str] = set()
    for scheme, raw in recorded.items():
        value = normalise_hash(raw, min_length=MIN_PREFIX)
        if value is not None:
            needed.update(_candidates(scheme, value))
    return needed
