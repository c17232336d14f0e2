"""Ecosystem model hashes: FORMATS.md §2 vectors, real toy models, one-pass property."""

from __future__ import annotations

import hashlib
import random
import struct
import tracemalloc
import zlib
from pathlib import Path

import blake3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repro.errors import InputError, UsageError
from repro.models import hashes
from repro.models.hashes import (
    SCHEMES,
    civitai_crc32,
    compute_hashes,
    match_recorded,
    needed_schemes,
    short_forms,
)
from repro.objects import hashing

from .model_files import F32, STRING, U32, gguf_bytes, safetensors_bytes, vector_safetensors

VECTOR_SHA256 = "062cfae197ca85c1c2797d72dcfe96f6846be1de33fd5c0392b33c944b14d05e"
VECTOR_AUTOV3 = "01a4cc350e4fc405ebb5f34e84ec2b24c5154ceff897db7b4cb1f60e9af0b088"
VECTOR_BLAKE3 = "5a103effd9c78b00fbebeb391cce0f490efaa9215020bdec4f0fc180d4f83c13"


@pytest.fixture(scope="module")
def vector(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return vector_safetensors(tmp_path_factory.mktemp("vec") / "demo.safetensors")


@pytest.fixture(scope="module")
def vector_hashes(vector: Path) -> dict[str, str]:
    return compute_hashes(vector, SCHEMES)


# --- FORMATS.md §2 test vectors -------------------------------------------------

def test_vector_file_is_the_documented_one(vector: Path) -> None:
    assert vector.stat().st_size == 3_145_872


def test_vector_every_scheme(vector_hashes: dict[str, str]) -> None:
    assert vector_hashes == {
        "sha256": VECTOR_SHA256,
        "autov1": "cd157238",
        "tensor_sha256": VECTOR_AUTOV3,
        "blake3": VECTOR_BLAKE3,
        "crc32": "a9cd1f9d",
    }
    assert civitai_crc32(vector_hashes["crc32"]) == "9D1FCDA9"


def test_vector_short_forms(vector_hashes: dict[str, str]) -> None:
    assert short_forms(vector_hashes) == {
        "autov2": "062cfae197",
        "sha256_12": "062cfae197ca",
        "lora12": "01a4cc350e4f",
        "autov3": VECTOR_AUTOV3,
        "swarm": "0x" + VECTOR_AUTOV3,
    }


def test_renamed_title_changes_file_hash_not_tensor_hash(tmp_path: Path,
                                                         vector_hashes: dict[str, str]) -> None:
    renamed = vector_safetensors(tmp_path / "renamed.safetensors", title="renamed")
    got = compute_hashes(renamed, ["sha256", "tensor_sha256", "blake3"])
    assert short_forms(got)["autov2"] == "47588225b1"
    assert got["tensor_sha256"] == VECTOR_AUTOV3
    assert got["blake3"] != vector_hashes["blake3"]


def test_crc32_hello_world(tmp_path: Path) -> None:
    path = tmp_path / "hello.txt"
    path.write_bytes(b"hello world")
    got = compute_hashes(path, SCHEMES)
    assert got["crc32"] == "0d4a1185"
    assert civitai_crc32(got["crc32"]) == "85114A0D"
    # Not safetensors and under 2 MiB: those schemes do not apply.
    assert set(got) == {"blake3", "sha256", "crc32"}


def test_civitai_crc32_rejects_non_hex() -> None:
    with pytest.raises(InputError):
        civitai_crc32("xyz")


# --- real toy models ----------------------------------------------------------------

@pytest.mark.parametrize(("name", "b3", "sha"), [
    ("tiny_compact_x2.safetensors",
     "f52895d01b5349be40b1aa603cd9cbce1f6d67e54f5e49aa9368ee5ac4c7198d",
     "f3c1a442b0a58eeee0788c1d28abc78019084da97861da91886c5ceeb9230441"),
    ("tiny_compact_x2_v2.safetensors",
     "8715f92eac085129a6eed7563094363f28df61be82c07ca5ff30c51a363bf88d",
     "f41cb03748476a87fe4652068e2ab54dc35a23c5343f3ee0d48fbefdfa57115f"),
])
def test_real_toy_models(comfy_fixtures: Path, name: str, b3: str, sha: str) -> None:
    path = comfy_fixtures / name
    got = compute_hashes(path, SCHEMES)
    assert got["blake3"] == b3
    assert got["sha256"] == sha
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    assert got["tensor_sha256"] == hashlib.sha256(raw[8 + n:]).hexdigest()
    assert got["crc32"] == f"{zlib.crc32(raw):08x}"
    assert "autov1" not in got  # 10 KB: Civitai gives no AutoV1


def test_toy_models_share_no_hash(comfy_fixtures: Path) -> None:
    a = compute_hashes(comfy_fixtures / "tiny_compact_x2.safetensors", SCHEMES)
    b = compute_hashes(comfy_fixtures / "tiny_compact_x2_v2.safetensors", SCHEMES)
    assert all(a[k] != b[k] for k in a)
    assert match_recorded({"sha256": a["sha256"][:10]}, b) is None


# --- one pass equals each scheme separately ------------------------------------------

MIB = 1024 * 1024
_EDGES = [0, 1, 7, 8, 9, MIB - 1, MIB, MIB + 1, MIB + 65536, 2 * MIB - 1, 2 * MIB,
          2 * MIB + 1]


def _reference(data: bytes, tensor_offset: int | None) -> dict[str, str]:
    ref = {
        "blake3": blake3.blake3(data).hexdigest(),
        "sha256": hashlib.sha256(data).hexdigest(),
        "crc32": f"{zlib.crc32(data):08x}",
    }
    if len(data) >= 2 * MIB:
        ref["autov1"] = hashlib.sha256(data[MIB:MIB + 65536]).hexdigest()[:8]
    if tensor_offset is not None:
        ref["tensor_sha256"] = hashlib.sha256(data[tensor_offset:]).hexdigest()
    return ref


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    size=st.one_of(st.sampled_from(_EDGES), st.integers(0, 2 * MIB + 70_000)),
    delta=st.integers(-3, 3),
    chunk=st.sampled_from([4096, 65536, 65537, 300_001]),
    safetensors=st.booleans(),
    parallel=st.booleans(),
    seed=st.integers(0, 2**32),
)
def test_one_pass_equals_separate(tmp_path: Path, size: int, delta: int, chunk: int,
                                  safetensors: bool, parallel: bool, seed: int) -> None:
    body = random.Random(seed).randbytes(max(0, size + delta))
    if safetensors:
        data = safetensors_bytes({"t": ("U8", [len(body)], body)}, {"k": "v"}, pad=seed % 9)
        tensor_offset: int | None = 8 + struct.unpack("<Q", data[:8])[0]
    else:
        # Must not look like safetensors by accident: byte 8 is not "{".
        data = b"\x80\x02not-a-safetensors" + body
        tensor_offset = None
    path = tmp_path / "m.bin"
    path.write_bytes(data)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(hashing, "CHUNK", chunk)
        if parallel:
            mp.setattr(hashing, "THREADS_MIN_BYTES", 0)
        seen: list[int] = []
        got = compute_hashes(path, SCHEMES, progress=seen.append)
    assert got == _reference(data, tensor_offset)
    assert sum(seen) == len(data)
    assert all(n <= chunk for n in seen)


def test_each_scheme_alone_matches_all_at_once(vector: Path,
                                               vector_hashes: dict[str, str]) -> None:
    for scheme in SCHEMES:
        assert compute_hashes(vector, [scheme]) == {scheme: vector_hashes[scheme]}


def test_autov1_alone_reads_only_its_window(vector: Path) -> None:
    seen: list[int] = []
    assert compute_hashes(vector, ["autov1"], progress=seen.append) == {"autov1": "cd157238"}
    assert seen == [65536]


def test_autov1_edge_at_two_mib(tmp_path: Path) -> None:
    small, big = tmp_path / "small", tmp_path / "big"
    small.write_bytes(b"\1" * (2 * MIB - 1))
    big.write_bytes(b"\1" * (2 * MIB))
    assert compute_hashes(small, ["autov1"]) == {}
    assert compute_hashes(small, ["autov1", "crc32"]).keys() == {"crc32"}
    expected = hashlib.sha256(b"\1" * 65536).hexdigest()[:8]
    assert compute_hashes(big, ["autov1"]) == {"autov1": expected}
    assert compute_hashes(big, ["autov1", "crc32"])["autov1"] == expected


def test_memory_stays_flat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.safetensors"
    body = random.Random(1).randbytes(6 * MIB)
    path.write_bytes(safetensors_bytes({"t": ("U8", [len(body)], body)}))
    del body
    monkeypatch.setattr(hashing, "CHUNK", 64 * 1024)
    tracemalloc.start()
    try:
        compute_hashes(path, SCHEMES)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 * MIB


def test_gguf_tensor_hash_starts_at_data_offset(tmp_path: Path) -> None:
    tensor = struct.pack("<4f", 1, 2, 3, 4)
    raw = gguf_bytes([("general.architecture", STRING, "flux"), ("x", U32, 7)],
                     [("w", [4], F32, 0)], tensor)
    path = tmp_path / "m.gguf"
    path.write_bytes(raw)
    got = compute_hashes(path, ["tensor_sha256", "sha256"])
    assert got["tensor_sha256"] == hashlib.sha256(tensor).hexdigest()
    assert got["sha256"] == hashlib.sha256(raw).hexdigest()


def test_broken_gguf_has_no_tensor_hash_but_still_hashes(tmp_path: Path) -> None:
    path = tmp_path / "bad.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 2**60, 0))
    assert set(compute_hashes(path, ["tensor_sha256", "blake3"])) == {"blake3"}


def test_unknown_scheme_is_a_usage_error(vector: Path) -> None:
    with pytest.raises(UsageError):
        compute_hashes(vector, ["md5"])


def test_no_schemes_reads_nothing(vector: Path) -> None:
    seen: list[int] = []
    assert compute_hashes(vector, [], progress=seen.append) == {}
    assert seen == []


# --- matching recorded hashes ---------------------------------------------------------

def test_match_autov2(vector_hashes: dict[str, str]) -> None:
    assert match_recorded({"sha256": "062cfae197"}, vector_hashes) == "sha256"
    assert match_recorded({"autov2": "062CFAE197"}, vector_hashes) == "sha256"


def test_match_autov1(vector_hashes: dict[str, str]) -> None:
    assert match_recorded({"autov1": "CD157238"}, vector_hashes) == "autov1"
    assert match_recorded({"autov1": "cd157239"}, vector_hashes) is None


def test_match_lora_tensor_hash_recorded_as_sha256(vector_hashes: dict[str, str]) -> None:
    # A1111 writes the 12-hex tensor hash under "Lora hashes"; a reader may
    # file it as sha256: it must still match, as the tensor hash.
    assert match_recorded({"sha256": "01a4cc350e4f"}, vector_hashes) == "tensor_sha256"
    assert match_recorded({"tensor_sha256": "01a4cc350e4f"}, vector_hashes) == "tensor_sha256"


def test_match_lora_full_file_hash_recorded_as_tensor(vector_hashes: dict[str, str]) -> None:
    # Fooocus and ComfyUI savers write the 10-hex full-file hash for LoRAs.
    assert match_recorded({"tensor_sha256": "062cfae197"}, vector_hashes) == "sha256"


def test_match_swarm_uppercase_0x(vector_hashes: dict[str, str]) -> None:
    assert match_recorded({"tensor_sha256": "0x" + VECTOR_AUTOV3.upper()},
                          vector_hashes) == "tensor_sha256"
    assert match_recorded({"swarm": "0X" + VECTOR_AUTOV3}, vector_hashes) == "tensor_sha256"


def test_match_invokeai_blake3(vector_hashes: dict[str, str]) -> None:
    assert match_recorded({"blake3": "blake3:" + VECTOR_BLAKE3}, vector_hashes) == "blake3"
    assert match_recorded({"blake3": VECTOR_BLAKE3}, vector_hashes) == "blake3"


def test_match_crc32_either_byte_order(vector_hashes: dict[str, str]) -> None:
    assert match_recorded({"crc32": "9D1FCDA9"}, vector_hashes) == "crc32"
    assert match_recorded({"crc32": "a9cd1f9d"}, vector_hashes) == "crc32"


def test_too_short_prefix_never_matches(vector_hashes: dict[str, str]) -> None:
    assert match_recorded({"sha256": "062cfae"}, vector_hashes) is None
    assert match_recorded({"sha256": ""}, vector_hashes) is None
    assert match_recorded({"sha256": "062cfae1"}, vector_hashes) == "sha256"


def test_wrong_or_garbled_hash_rejected(vector_hashes: dict[str, str]) -> None:
    assert match_recorded({"sha256": "062cfae198"}, vector_hashes) is None
    assert match_recorded({"blake3": VECTOR_SHA256}, vector_hashes) is None
    assert match_recorded({"sha256": "not-a-hash-at-all"}, vector_hashes) is None
    # A recorded hash can be matched only against what was computed.
    assert match_recorded({"sha256": "062cfae197"}, {"blake3": VECTOR_BLAKE3}) is None


def test_unknown_scheme_name_tries_everything(vector_hashes: dict[str, str]) -> None:
    assert match_recorded({"model hash": "cd157238"}, vector_hashes) == "autov1"
    assert match_recorded({"hash": VECTOR_BLAKE3[:12]}, vector_hashes) == "blake3"


def test_needed_schemes() -> None:
    assert needed_schemes({"sha256": "062cfae197"}) == {"sha256", "tensor_sha256"}
    assert needed_schemes({"autov1": "cd157238"}) == {"autov1"}
    assert needed_schemes({"blake3": "blake3:" + VECTOR_BLAKE3}) == {"blake3"}
    assert needed_schemes({"sha256": "abc"}) == set()
    assert needed_schemes({}) == set()
    assert needed_schemes({"other": "cd157238"}) == {"sha256", "tensor_sha256", "blake3",
                                                      "autov1"}


def test_needed_schemes_suffice_to_match(vector: Path) -> None:
    for recorded in ({"sha256": "01a4cc350e4f"}, {"autov1": "cd157238"},
                     {"swarm": "0x" + VECTOR_AUTOV3}, {"blake3": VECTOR_BLAKE3}):
        computed = compute_hashes(vector, needed_schemes(recorded))
        assert match_recorded(recorded, computed) is not None


def test_schemes_constant() -> None:
    assert hashes.SCHEMES == ("blake3", "sha256", "autov1", "tensor_sha256", "crc32")
