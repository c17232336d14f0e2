"""A record's canonical bytes, and so its id, never change for the same values:
stored ids must stay the ids of the same records (an old store reads the same).
Every part and kind of field value is here: empty and ``None`` fields left out,
zero, empty text and ``False`` kept, tuples and mapping proxies written as
lists and objects. The bytes were those of main at 4c63385 (before the
encoding was made faster, issue 17 item 10)."""

from __future__ import annotations

from types import MappingProxyType

import orjson

from repro.record import (
    Assessment,
    Captured,
    InputEntry,
    ModelEntry,
    Output,
    Params,
    Parent,
    Reason,
    Record,
    Source,
    Tool,
    canonical_bytes,
    record_id,
)

B1, B2, B3 = "1" * 64, "2" * 64, "3" * 64


def every_field_record() -> Record:
    return Record(
        output=Output(blake3=B1, path="out/a b.png", size=0, media_type="image/png", width=8,
                      height=8, sha256="ab" * 32, mtime="2026-01-01T00:00:00.000Z",
                      pixels_md5=None, frames=1),
        tool=Tool(name="comfyui", version="", commit=None),
        params=Params(values={"seed": 2**64 - 1, "cfg": 7.0, "flag": True, "none": None,
                              "text": "ünïcode \"q\"", "list": [1, 2.5, "x"]},
                      samplers=({"node": "3", "seed": 1},)),
        models=(ModelEntry(role="checkpoint", name="base.safetensors", path="models/b.st",
                           blake3=B2, size=5, strength=None, folder="checkpoints", node="4",
                           recorded={}, hashes=MappingProxyType({"blake3": B2}),
                           found_by="hash", base_model=None),
                ModelEntry(role="lora", name="style", strength=0.0, strength_clip=-1.5,
                           recorded={"sha256": "abcdef0123"}, hashes={},
                           base_model={"name": "base", "hashes": {"sha256": "cd" * 32}})),
        inputs=(InputEntry(role="init_image", name="in.png", path="in.png", blake3=B3,
                           node="11", recorded={"sha256": "0" * 64},
                           hashes={"sha256": "0" * 64}),),
        parents=(Parent(B3, "variation-of", {"seed": 101}), Parent(B2)),
        source=Source(format="comfyui-png", formats=("comfyui-png", "exif"),
                      metadata="execution", blobs={"prompt": B2, "workflow": B3},
                      warnings=(), provenance={"c2pa": False}),
        environment={"python": "3.11.7", "packages": {"torch": "2.5.0"}, "gpu": None},
        assessment=Assessment("approximate", (Reason("model.missing", "lora style: not found"),)),
        captured=Captured(at="2026-01-01T00:00:00.000Z", host="h", user=None, store_mode="copy"),
        message="",
        supersedes=B1,
    )


EXPECTED = {
    "captured": {"at": "2026-01-01T00:00:00.000Z", "host": "h", "store_mode": "copy"},
    "environment": {"gpu": None, "packages": {"torch": "2.5.0"}, "python": "3.11.7"},
    "inputs": [{"blake3": B3, "hashes": {"sha256": "0" * 64}, "name": "in.png", "node": "11",
                "path": "in.png", "recorded": {"sha256": "0" * 64}, "role": "init_image"}],
    "message": "",
    "models": [
        {"blake3": B2, "folder": "checkpoints", "found_by": "hash", "hashes": {"blake3": B2},
         "name": "base.safetensors", "node": "4", "path": "models/b.st", "role": "checkpoint",
         "size": 5},
        {"base_model": {"hashes": {"sha256": "cd" * 32}, "name": "base"}, "name": "style",
         "recorded": {"sha256": "abcdef0123"}, "role": "lora", "strength": 0.0,
         "strength_clip": -1.5}],
    "output": {"blake3": B1, "frames": 1, "height": 8, "media_type": "image/png",
               "mtime": "2026-01-01T00:00:00.000Z", "path": "out/a b.png",
               "sha256": "ab" * 32, "size": 0, "width": 8},
    "params": {"cfg": 7.0, "flag": True, "list": [1, 2.5, "x"], "none": None,
               "samplers": [{"node": "3", "seed": 1}], "seed": 2**64 - 1,
               "text": "ünïcode \"q\""},
    "parents": [{"changed": {"seed": 101}, "id": B3, "relation": "variation-of"},
                {"id": B2, "relation": "input"}],
    "reproducibility": {"level": "approximate",
                        "reasons": [{"code": "model.missing", "text": "lora style: not found"}]},
    "schema": "repro.record/2",
    "source": {"blobs": {"prompt": B2, "workflow": B3}, "format": "comfyui-png",
               "formats": ["comfyui-png", "exif"], "metadata": "execution",
               "provenance": {"c2pa": False}},
    "supersedes": B1,
    "tool": {"name": "comfyui", "version": ""},
}


def test_canonical_bytes_are_the_sorted_json_of_every_field_kept() -> None:
    raw = canonical_bytes(every_field_record())
    assert raw == orjson.dumps(EXPECTED, option=orjson.OPT_SORT_KEYS)
    assert record_id(raw) == "235c705b0e38b94b84538f3a7478f686b3d20099b93ba0ec2fba01532780a010"
