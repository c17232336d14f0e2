"""safetensors and GGUF headers: real toy models, files built here, hostile headers."""

from __future__ import annotations

import json
import pickle
import struct
import zipfile
from pathlib import Path

import orjson
import pytest

from repro.errors import InputError, LimitExceeded, NotFound, ReproError, TruncatedFile
from repro.models import gguf, headers
from repro.models.headers import (
    GGUFArray,
    base_model_refs,
    model_info,
    read_gguf_header,
    read_safetensors_header,
    sniff_model,
)

from .model_files import (
    ARRAY,
    BOOL,
    F32,
    F64,
    I32,
    STRING,
    U8,
    U32,
    U64,
    gguf_bytes,
    safetensors_bytes,
    vector_safetensors,
)


def _write(tmp_path: Path, name: str, raw: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(raw)
    return path


def _small_safetensors(metadata: dict[str, str] | None = None,
                       names: tuple[str, ...] = ("a", "b")) -> bytes:
    return safetensors_bytes({n: ("F32", [2], struct.pack("<2f", i, -i))
                              for i, n in enumerate(names)}, metadata)


# --- safetensors -------------------------------------------------------------------

def test_vector_header(tmp_path: Path) -> None:
    h = read_safetensors_header(vector_safetensors(tmp_path / "v.safetensors"))
    assert h.header_size == 136
    assert h.data_offset == 144
    assert h.metadata == {"ss_output_name": "demo", "modelspec.title": "demo"}
    assert list(h.tensors) == ["w"]
    w = h.tensors["w"]
    assert (w.dtype, w.shape, w.data_offsets) == ("F32", (786432,), (0, 3145728))


@pytest.mark.parametrize("seed", [1, 2])
def test_real_toy_model_header(comfy_fixtures: Path, seed: int) -> None:
    name = "tiny_compact_x2.safetensors" if seed == 1 else "tiny_compact_x2_v2.safetensors"
    path = comfy_fixtures / name
    h = read_safetensors_header(path)
    assert h.metadata["format"] == "pt"
    assert h.metadata["description"].startswith("random-weight toy SRVGGNetCompact x2")
    assert f"seed={seed};" in h.metadata["description"]
    assert len(h.tensors) == 11
    assert h.tensors["body.0.weight"].shape == (8, 3, 3, 3)
    assert h.tensors["body.6.weight"].shape == (12, 8, 3, 3)
    assert {t.dtype for t in h.tensors.values()} == {"F32"}
    # The tensors fill the data section exactly, as safetensors writes them.
    assert max(t.data_offsets[1] for t in h.tensors.values()) == (
        path.stat().st_size - h.data_offset)
    n = struct.unpack("<Q", path.read_bytes()[:8])[0]
    assert h.data_offset == 8 + n


def test_real_toy_model_info(comfy_fixtures: Path) -> None:
    info = model_info(comfy_fixtures / "tiny_compact_x2.safetensors")
    assert info["format"] == "safetensors"
    assert info["tensor_count"] == 11
    assert info["metadata"]["format"] == "pt"
    assert info["architecture"] is None  # an upscaler: no signature we guess
    orjson.dumps(info)


def test_metadata_non_strings_kept_as_json_text(tmp_path: Path) -> None:
    raw = _small_safetensors({"n": 3, "obj": {"a": [1]}, "s": "x"})  # type: ignore[dict-item]
    h = read_safetensors_header(_write(tmp_path, "m.safetensors", raw))
    assert h.metadata == {"n": "3", "obj": '{"a":[1]}', "s": "x"}


def test_no_metadata_and_padding(tmp_path: Path) -> None:
    raw = safetensors_bytes({"x": ("U8", [3], b"abc")}, None, pad=13)
    h = read_safetensors_header(_write(tmp_path, "m.safetensors", raw))
    assert h.metadata == {}
    assert h.data_offset == len(raw) - 3


def test_header_size_larger_than_file(tmp_path: Path) -> None:
    raw = struct.pack("<Q", 5000) + b'{"__metadata__":{}}'
    with pytest.raises(TruncatedFile):
        read_safetensors_header(_write(tmp_path, "m.safetensors", raw))


def test_header_size_2_pow_63(tmp_path: Path) -> None:
    raw = struct.pack("<Q", 2**63) + b"{}" + b"\0" * 100
    with pytest.raises(LimitExceeded):
        read_safetensors_header(_write(tmp_path, "m.safetensors", raw))


def test_header_over_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = _small_safetensors({"big": "x" * 5000})
    path = _write(tmp_path, "m.safetensors", raw)
    read_safetensors_header(path)
    monkeypatch.setattr(headers, "MAX_SAFETENSORS_HEADER", 4096)
    with pytest.raises(LimitExceeded):
        read_safetensors_header(path)


@pytest.mark.parametrize("text", [b"{not json at all", b"[1,2,3]", b'"str"', b"\xff\xfe{}",
                                  b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}',
                                  b'{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}',
                                  b'{"w":{"shape":[1],"data_offsets":[0,0]}}',
                                  b'{"w":[1,2]}', b'{"__metadata__":[1]}'])
def test_bad_header_json(tmp_path: Path, text: bytes) -> None:
    raw = struct.pack("<Q", len(text)) + text + b"\0" * 8
    with pytest.raises(InputError):
        read_safetensors_header(_write(tmp_path, "m.safetensors", raw))


def test_deeply_nested_header(tmp_path: Path) -> None:
    text = b'{"__metadata__":' + b"[" * 5000 + b"]" * 5000 + b"}"
    raw = struct.pack("<Q", len(text)) + text
    with pytest.raises(LimitExceeded):
        read_safetensors_header(_write(tmp_path, "m.safetensors", raw))


def test_every_truncation_is_a_clear_error(tmp_path: Path) -> None:
    raw = _small_safetensors({"k": "v"})
    read_safetensors_header(_write(tmp_path, "full.safetensors", raw))
    for cut in range(len(raw)):
        with pytest.raises(ReproError):
            read_safetensors_header(_write(tmp_path, "cut.safetensors", raw[:cut]))


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        read_safetensors_header(tmp_path / "nope.safetensors")
    with pytest.raises(InputError):
        read_safetensors_header(tmp_path)


# --- GGUF --------------------------------------------------------------------------

def _gguf_sample(alignment: int | None = None) -> bytes:
    kvs = [
        ("general.architecture", STRING, "flux"),
        ("general.name", STRING, "tiny flux"),
        ("general.file_type", U32, 8),
        ("general.quantization_version", U32, 2),
        ("x.float", F32, 0.5),
        ("x.double", F64, -2.25),
        ("x.flag", BOOL, True),
        ("x.signed", I32, -7),
        ("x.big", U64, 2**63 + 5),
        ("x.tokens", ARRAY, (STRING, [f"tok{i}" for i in range(100)])),
        ("x.bytes", ARRAY, (U8, list(range(200)))),
        ("x.nested", ARRAY, (ARRAY, [(U32, [1, 2]), (U32, [3])])),
    ]
    if alignment is not None:
        kvs.append(("general.alignment", U32, alignment))
        align = alignment
    else:
        align = 32
    tensors = [("double_blocks.0.img_attn.qkv.weight", [4, 2], 8, 0),
               ("single_blocks.0.linear1.weight", [3], 0, 64)]
    return gguf_bytes(kvs, tensors, b"\1" * 76, alignment=align)


@pytest.mark.parametrize("alignment", [None, 64])
def test_gguf_round_trip(tmp_path: Path, alignment: int | None) -> None:
    raw = _gguf_sample(alignment)
    g = read_gguf_header(_write(tmp_path, "m.gguf", raw))
    assert g.version == 3
    assert g.tensor_count == 2
    assert g.alignment == (alignment or 32)
    assert g.data_offset == len(raw) - 76
    assert g.data_offset % g.alignment == 0
    md = g.metadata
    assert md["general.architecture"] == "flux"
    assert md["general.file_type"] == 8
    assert md["x.float"] == 0.5 and md["x.double"] == -2.25
    assert md["x.flag"] is True and md["x.signed"] == -7 and md["x.big"] == 2**63 + 5
    tokens = md["x.tokens"]
    assert isinstance(tokens, GGUFArray)
    assert tokens.length == 100
    assert tokens.items == tuple(f"tok{i}" for i in range(64))
    assert md["x.bytes"].length == 200 and md["x.bytes"].items == tuple(range(64))
    nested = md["x.nested"]
    assert [a.items for a in nested.items] == [(1, 2), (3,)]
    assert [(t.name, t.shape, t.ggml_type, t.offset) for t in g.tensors] == [
        ("double_blocks.0.img_attn.qkv.weight", (4, 2), 8, 0),
        ("single_blocks.0.linear1.weight", (3,), 0, 64),
    ]


def test_gguf_model_info_is_json(tmp_path: Path) -> None:
    info = model_info(_write(tmp_path, "m.gguf", _gguf_sample()))
    assert info["format"] == "gguf"
    assert info["architecture"] == "flux"
    assert info["architecture_source"] == "general.architecture"
    assert info["tensor_count"] == 2
    back = json.loads(orjson.dumps(info))
    assert back["metadata"]["x.tokens"]["length"] == 100
    assert back["metadata"]["x.tokens"]["truncated"] is True
    assert len(back["metadata"]["x.tokens"]["items"]) == 64


def _gguf_prefix(tensor_count: int, kv_count: int, version: int = 3) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", version, tensor_count, kv_count)


@pytest.mark.parametrize(("raw", "error"), [
    (_gguf_prefix(2**63, 0), LimitExceeded),
    (_gguf_prefix(0, 2**64 - 1), LimitExceeded),
    (_gguf_prefix(0, 10), TruncatedFile),
    (_gguf_prefix(1000, 0) + b"\0" * 100, TruncatedFile),
    (_gguf_prefix(0, 1) + struct.pack("<Q", 2**62) + b"k" * 64, LimitExceeded),
    (_gguf_prefix(0, 1) + struct.pack("<Q", 1) + b"k" + struct.pack("<IQ", STRING, 2**40)
     + b"v" * 64, LimitExceeded),
    (_gguf_prefix(0, 1) + struct.pack("<Q", 1) + b"k" + struct.pack("<IQ", STRING, 1000)
     + b"v" * 64, TruncatedFile),
    (_gguf_prefix(0, 1) + struct.pack("<Q", 1) + b"k" + struct.pack("<IIQ", ARRAY, U8, 2**60)
     + b"\0" * 64, TruncatedFile),
    (_gguf_prefix(0, 1) + struct.pack("<Q", 1) + b"k" + struct.pack("<IIQ", ARRAY, STRING, 2**60)
     + b"\0" * 64, TruncatedFile),
    (_gguf_prefix(0, 1) + struct.pack("<Q", 1) + b"k" + struct.pack("<I", 99) + b"\0" * 64,
     InputError),
    (_gguf_prefix(0, 0, version=1), InputError),
    (_gguf_prefix(0, 0, version=2**31), InputError),
    (b"GGUX" + b"\0" * 40, InputError),
    (b"GG", InputError),
])
def test_gguf_hostile(tmp_path: Path, raw: bytes, error: type[ReproError]) -> None:
    with pytest.raises(error):
        read_gguf_header(_write(tmp_path, "m.gguf", raw))


def test_gguf_deep_nested_arrays(tmp_path: Path) -> None:
    value: tuple[int, list[object]] = (U8, [1])
    for _ in range(6):
        value = (ARRAY, [value])
    raw = gguf_bytes([("k", ARRAY, value)], [])
    with pytest.raises(LimitExceeded):
        read_gguf_header(_write(tmp_path, "m.gguf", raw))


def test_gguf_tensor_with_too_many_dims(tmp_path: Path) -> None:
    raw = gguf_bytes([], [("t", [1] * 40, 0, 0)], b"\0" * 64)
    with pytest.raises(LimitExceeded):
        read_gguf_header(_write(tmp_path, "m.gguf", raw))


@pytest.mark.parametrize("alignment", [0, 2**31])
def test_gguf_bad_alignment(tmp_path: Path, alignment: int) -> None:
    raw = gguf_bytes([("general.alignment", U32, alignment)], [])
    with pytest.raises(InputError):
        read_gguf_header(_write(tmp_path, "m.gguf", raw))


def test_gguf_every_truncation_is_a_clear_error(tmp_path: Path) -> None:
    raw = _gguf_sample()
    data_offset = read_gguf_header(_write(tmp_path, "full.gguf", raw)).data_offset
    for cut in range(data_offset):
        with pytest.raises(ReproError):
            read_gguf_header(_write(tmp_path, "cut.gguf", raw[:cut]))


def test_gguf_tensor_offset_past_end(tmp_path: Path) -> None:
    raw = gguf_bytes([], [("t", [4], 0, 4096)], b"\0" * 16)
    with pytest.raises(TruncatedFile):
        read_gguf_header(_write(tmp_path, "m.gguf", raw))


def test_gguf_kept_strings_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = gguf_bytes([(f"k{i}", STRING, "v" * 1000) for i in range(10)], [])
    path = _write(tmp_path, "m.gguf", raw)
    read_gguf_header(path)
    monkeypatch.setattr(gguf, "MAX_GGUF_KEPT_BYTES", 5000)
    with pytest.raises(LimitExceeded):
        read_gguf_header(path)


# --- sniffing, info, lineage ----------------------------------------------------------

def test_sniff_model(tmp_path: Path) -> None:
    assert sniff_model(_write(tmp_path, "a.safetensors", _small_safetensors())) == "safetensors"
    assert sniff_model(_write(tmp_path, "a.gguf", _gguf_sample())) == "gguf"
    with zipfile.ZipFile(tmp_path / "a.ckpt", "w") as z:
        z.writestr("archive/data.pkl", b"x")
    assert sniff_model(tmp_path / "a.ckpt") == "pickle"
    # Written only: repro never unpickles.
    assert sniff_model(_write(tmp_path, "a.pt", pickle.dumps({"a": 1}, protocol=2))) == "pickle"
    assert sniff_model(_write(tmp_path, "a.txt", b"hello world, not a model")) is None
    assert sniff_model(_write(tmp_path, "empty", b"")) is None
    # A huge N in the first 8 bytes is not safetensors.
    assert sniff_model(_write(tmp_path, "h", struct.pack("<Q", 2**40) + b"{}")) is None


def test_model_info_pickle_is_never_opened(tmp_path: Path) -> None:
    info = model_info(_write(tmp_path, "a.pt", pickle.dumps([1, 2], protocol=4)))
    assert info == {"format": "pickle", "architecture": None, "architecture_source": None,
                    "metadata": {}, "tensor_count": None, "data_offset": None}


@pytest.mark.parametrize(("metadata", "names", "arch", "source"), [
    ({"modelspec.architecture": "stable-diffusion-xl-v1-base/lora",
      "ss_base_model_version": "sdxl_base_v1-0"}, ("lora_unet_x.lora_down.weight",),
     "stable-diffusion-xl-v1-base/lora", "modelspec.architecture"),
    ({"ss_base_model_version": "sd_v1"}, ("lora_unet_x.lora_down.weight",),
     "sd_v1", "ss_base_model_version"),
    ({}, ("lora_unet_down_blocks_0.lora_down.weight", "lora_te_text_model.alpha"),
     "lora", "guess"),
    ({}, ("model.diffusion_model.double_blocks.0.x", "model.diffusion_model.single_blocks.0.y"),
     "flux", "guess"),
    ({}, ("model.diffusion_model.input_blocks.0.0.weight", "cond_stage_model.x"),
     "stable-diffusion", "guess"),
    ({}, ("model.diffusion_model.input_blocks.0.0.weight", "conditioner.embedders.1.model.x"),
     "stable-diffusion-xl", "guess"),
    ({}, ("encoder.down.0.block.0.conv1.weight", "decoder.up.0.block.0.conv1.weight"),
     "vae", "guess"),
    ({}, ("clip_l", "clip_g"), "textual-inversion", "guess"),
    ({}, ("body.0.weight",), None, None),
])
def test_model_info_architecture(tmp_path: Path, metadata: dict[str, str],
                                 names: tuple[str, ...], arch: str | None,
                                 source: str | None) -> None:
    path = _write(tmp_path, "m.safetensors", _small_safetensors(metadata, names))
    info = model_info(path)
    assert (info["architecture"], info["architecture_source"]) == (arch, source)
    assert info["tensor_count"] == len(names)
    assert info["metadata"] == metadata


def test_model_info_unknown_file(tmp_path: Path) -> None:
    info = model_info(_write(tmp_path, "x.bin", b"\0" * 64))
    assert info["format"] is None and info["architecture"] is None


def test_base_model_refs() -> None:
    sha = "31E35C80FC4829D14F90153F4C74CD59C90B779F6AFE05A74CD6FFB2B7C0D3EC"
    md = {"ss_sd_model_hash": "E6E8E1FC", "ss_new_sd_model_hash": sha,
          "ss_sd_model_name": "v1-5-pruned-emaonly.safetensors", "ss_output_name": "x"}
    assert base_model_refs(md) == {"autov1": "e6e8e1fc", "sha256": sha.lower(),
                                   "name": "v1-5-pruned-emaonly.safetensors"}


def test_base_model_refs_skips_missing_and_malformed() -> None:
    assert base_model_refs({}) == {}
    assert base_model_refs({"ss_sd_model_hash": "None", "ss_new_sd_model_hash": "",
                            "ss_sd_model_name": "None"}) == {}
    assert base_model_refs({"ss_sd_model_hash": "e6e8e1fc00",
                            "ss_new_sd_model_hash": "zz" * 32}) == {}


def test_base_model_refs_from_a_lora_file(tmp_path: Path) -> None:
    md = {"ss_sd_model_name": "sd_xl_base_1.0.safetensors", "ss_sd_model_hash": "be9edd61"}
    path = _write(tmp_path, "lora.safetensors",
                  _small_safetensors(md, ("lora_unet_a.lora_down.weight",)))
    refs = base_model_refs(read_safetensors_header(path).metadata)
    assert refs == {"name": "sd_xl_base_1.0.safetensors", "autov1": "be9edd61"}
