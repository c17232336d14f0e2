"""Model uses in the index: the counts ``repro models`` reads are kept as records
are written, and agree with a count over every row whatever the order of writes."""

from __future__ import annotations

import sqlite3
from typing import Any

from repro.lineage.index import Index
from tests.helpers import record_of

LORA, OTHER, CKPT = "1" * 64, "2" * 64, "3" * 64


def rec(n: int, *models: dict[str, Any], at: str | None = None) -> Any:
    return record_of({"output": {"blake3": f"{n:064x}"},
                      "captured": {"at": at or f"2025-01-01T00:00:{n:02d}Z"},
                      "models": list(models)})


def lora(blake3: str = LORA, name: str = "style.safetensors", path: str | None = None,
         ) -> dict[str, Any]:
    return {"role": "lora", "name": name, "path": path, "blake3": blake3}


def ckpt() -> dict[str, Any]:
    return {"role": "checkpoint", "name": "base.safetensors", "blake3": CKPT}


def recount(index: Index) -> dict[str, int]:
    rows = index.conn.execute(
        "SELECT k.blake3, count(DISTINCT m.record) FROM record_models m JOIN model_keys k "
        "ON k.key = m.key WHERE k.blake3 != x'' GROUP BY k.blake3")
    return {blake3.hex(): n for blake3, n in rows}


def fresh() -> Index:
    return Index(sqlite3.connect(":memory:", isolation_level=None))


def test_model_uses_are_counted_as_records_are_written_and_re_written() -> None:
    index = fresh()
    records = [rec(1, ckpt(), lora()), rec(2, ckpt()), rec(3, ckpt(), lora(), lora())]
    index.load(records[:2])
    index.add(records[2])
    index.add(records[2])  # indexing a record again does not count it twice
    index.load(records[:1])
    index.load([records[1], rec(4, ckpt()), rec(4, ckpt())])  # twice in one write too
    models = {m["blake3"]: m for m in index.models()}
    assert {b: m["uses"] for b, m in models.items()} == recount(index) == {CKPT: 4, LORA: 2}
    assert models[LORA] == {"blake3": LORA, "names": ["style.safetensors"], "paths": [],
                            "roles": ["lora"], "uses": 2}
    index.clear()
    assert index.models() == []


def test_a_version_seen_under_two_names_lists_both_and_counts_each_use() -> None:
    index = fresh()
    index.load([rec(1, lora(name="a.safetensors", path="models/loras/a.safetensors")),
                rec(2, lora(name="b.safetensors"))])
    [entry] = index.models()
    assert entry["names"] == ["a.safetensors", "b.safetensors"]
    assert entry["paths"] == ["models/loras/a.safetensors"]
    assert entry["uses"] == 2


def test_records_using_lists_each_record_once_newest_first() -> None:
    index = fresh()
    index.load([rec(1, lora()), rec(2, lora(OTHER)), rec(3, lora(), lora(OTHER)),
                rec(4, ckpt())])
    ids = {n: r.id for n, r in ((n, rec(n, *m)) for n, m in (
        (1, [lora()]), (2, [lora(OTHER)]), (3, [lora(), lora(OTHER)])))}
    assert index.records_using([LORA, OTHER]) == [ids[3], ids[2], ids[1]]
    assert index.records_using([LORA]) == [ids[3], ids[1]]
    assert index.records_using([]) == []
    assert index.last_record_using(LORA) == ids[3]
    assert index.last_record_using("4" * 64) is None


def test_recent_outputs_are_the_newest_of_the_tools_without_a_pixel_hash() -> None:
    index = fresh()

    def made(n: int, tool: str, pixels: str | None = None) -> Any:
        output: dict[str, Any] = {"blake3": f"{n:064x}"}
        if pixels:
            output["pixels_md5"] = pixels
        return record_of({"output": output, "tool": {"name": tool},
                          "captured": {"at": f"2025-01-01T00:00:{n:02d}Z"}})

    records = [made(1, "a1111"), made(2, "comfyui"), made(3, "forge"),
               made(4, "a1111", "f" * 32), made(5, "a1111"), made(6, "comfyui")]
    index.load(records)
    want = [(r.id, r.output.blake3) for r in (records[4], records[2], records[0])]
    assert index.recent_outputs(["a1111", "forge"], 10) == want
    assert index.recent_outputs(["a1111", "forge", "a1111"], 2) == want[:2]
    assert index.recent_outputs(["sdnext"], 10) == []
