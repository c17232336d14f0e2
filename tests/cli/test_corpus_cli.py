"""`repro inspect --json`, as a real subprocess, on every ComfyUI and A1111-family
corpus file: every fact EXPECTED.json lists must be in the JSON it prints."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from tests.capture.test_corpus import ROWS, _norm
from tests.helpers import repro_subprocess
from tests.paths import CORPUS

FAMILY = {"comfyui", "a1111", "forge", "sdnext"}
FAMILY_ROWS = [r for r in ROWS if r.get("tool") in FAMILY]
assert FAMILY_ROWS, f"no {sorted(FAMILY)} file in the corpus"


@pytest.fixture(scope="module")
def inspected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    files = [r["file"] for r in FAMILY_ROWS]
    proc = repro_subprocess("inspect", "--json", *files, cwd=CORPUS)
    assert proc.returncode == 0, proc.stderr
    results = orjson.loads(proc.stdout)
    return {f: r for f, r in zip(files, results, strict=True)}


@pytest.mark.parametrize("row", FAMILY_ROWS, ids=lambda row: row["file"])
def test_inspect_json_has_every_expected_fact(inspected: dict[str, dict[str, Any]],
                                              row: dict[str, Any]) -> None:
    got = inspected[row["file"]]
    assert got["tool"]["name"] == row["tool"]
    assert got["metadata"] == row["metadata"]
    assert got["level"] == row["level_max"]
    for key, value in row.get("params", {}).items():
        assert got["params"][key] == value, key
        assert type(got["params"][key]) is type(value), key
    for want in row.get("models", []):
        candidates = [m for m in got["models"] if m["role"] == want["role"]
                      and ("name" not in want or m.get("name") == want["name"])]
        assert candidates, want
        if "recorded_hash" in want:
            assert any(_norm(want["recorded_hash"]) in {_norm(h) for h in
                                                        (m.get("hashes") or {}).values()}
                       for m in candidates), want
    for want in row.get("inputs", []):
        assert any(i["role"] == want["role"] and i.get("name") == want["name"]
                   for i in got["inputs"]), want
    if "sampler_seeds" in row:
        assert sorted(s["seed"] for s in got["params"]["samplers"] if "seed" in s) == \
            row["sampler_seeds"]
    json.dumps(got)  # plain JSON all the way down
