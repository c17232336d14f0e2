"""Variations from the index: one differing key, a bounded candidate set."""

from __future__ import annotations

import copy
import sqlite3
from typing import Any

from repro.lineage.index import Index
from repro.lineage.variations import find_variations, variation_keys
from repro.record import Record, record_id
from tests.helpers import record_of

BASE: dict[str, Any] = {
    "tool": {"name": "comfyui"},
    "output": {"blake3": "0" * 64, "path": "outputs/base.png"},
    "params": {"prompt": "a fox", "seed": 1, "steps": 20, "cfg": 7.0,
               "samplers": [{"node": "3", "seed": 1, "steps": 20}]},
    "models": [{"role": "checkpoint", "name": "base.safetensors", "blake3": "a" * 64},
               {"role": "lora", "name": "style.safetensors", "blake3": "b" * 64,
                "strength": 0.8, "strength_clip": 0.8}],
    "inputs": [], "parents": [], "captured": {"at": "2025-01-01T00:00:00Z"},
}


def variant(name: str, change: Any) -> Record:
    data = copy.deepcopy(BASE)
    change(data)
    data["output"] = {"blake3": record_id(name.encode()), "path": f"outputs/{name}.png"}
    return record_of(data)


def setup(records: list[Record]) -> tuple[Index, dict[str, Record]]:
    index = Index(sqlite3.connect(":memory:", isolation_level=None))
    index.load(records)
    return index, {r.id: r for r in records}


def test_one_key_away_grouped_by_key() -> None:
    base = variant("base", lambda d: None)
    seed = variant("seed", lambda d: d["params"].update(seed=2))
    version = variant("version", lambda d: d["models"][0].update(blake3="c" * 64))
    cfg = variant("cfg", lambda d: d["params"].update(cfg=5.0))
    two = variant("two", lambda d: d["params"].update(cfg=5.0, steps=30))
    extra_lora = variant("extra", lambda d: d["models"].append(
        {"role": "lora", "name": "other.safetensors", "blake3": "d" * 64, "strength": 1.0}))
    index, by_id = setup([base, seed, version, cfg, two, extra_lora])
    result = find_variations(index, base, by_id.__getitem__).to_dict()
    groups = {g["parameter"]: [m["id"] for m in g["records"]] for g in result["groups"]}
    assert groups == {"seed": [seed.id], "cfg": [cfg.id],
                      "model checkpoint base.safetensors": [version.id]}
    assert result["groups"][0]["parameter"] == "seed"
    # The extra LoRA is another family: never a candidate.
    assert result["compared"] == 4 and result["truncated"] is False


def test_the_candidate_set_is_bounded() -> None:
    base = variant("base", lambda d: None)
    others = [variant(f"s{n}", lambda d, n=n: d["params"].update(seed=100 + n))
              for n in range(30)]
    index, by_id = setup([base, *others])
    result = find_variations(index, base, by_id.__getitem__, limit=10).to_dict()
    assert result["compared"] == 10 and result["truncated"] is True
    assert len(result["groups"][0]["records"]) == 10


def test_a_single_stage_does_not_count_a_seed_twice() -> None:
    keys = variation_keys(BASE)
    assert "samplers[0].seed" not in keys
    two_stage = copy.deepcopy(BASE)
    two_stage["params"]["samplers"] = [{"node": "3", "seed": 1}, {"node": "9", "seed": 5}]
    keys = variation_keys(two_stage)
    assert keys["samplers[1].seed"] == 5 and "samplers[0].seed" not in keys
    assert keys["strength lora style.safetensors"] == [0.8, 0.8]


def test_a_node_input_under_its_usual_name_counts_once() -> None:
    """ComfyUI outputs keep every input as NODE.INPUT and the common ones also by their
    usual name: a seed change is one difference, not two (what vary --seed makes)."""
    one = copy.deepcopy(BASE)
    one["params"].update({"2.seed": 1, "2.strength": 0.5, "4.noise_seed": 1})
    keys = variation_keys(one)
    assert "2.seed" not in keys and "4.noise_seed" not in keys
    assert keys["2.strength"] == 0.5 and keys["seed"] == 1
    base = variant("base", lambda d: d["params"].update({"2.seed": 1, "2.strength": 0.5}))
    other = variant("other", lambda d: d["params"].update(
        {"seed": 9, "2.seed": 9, "2.strength": 0.5, "samplers": [{"node": "3", "seed": 9,
                                                                  "steps": 20}]}))
    index, by_id = setup([base, other])
    result = find_variations(index, base, by_id.__getitem__).to_dict()
    assert [g["parameter"] for g in result["groups"]] == ["seed"]
