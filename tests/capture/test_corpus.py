"""Every file of the corpus (tests/fixtures/corpus), read by ``read_file``, against EXPECTED.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from repro.capture import Generation, read_file
from repro.errors import ReproError
from tests.paths import EXPECTED


def _rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(EXPECTED.read_text())["files"]
    return rows


ROWS = _rows()
assert len(ROWS) >= 30, f"{EXPECTED} lists {len(ROWS)} files"


def _norm(value: str) -> str:
    value = value.lower()
    return value[2:] if value.startswith("0x") else value


def _check_model(gen: Generation, want: dict[str, Any]) -> None:
    candidates = [m for m in gen.models if m.role == want["role"]]
    if "name" in want:
        candidates = [m for m in candidates if m.name == want["name"]]
    assert candidates, f"no {want} among {[m.to_dict() for m in gen.models]}"
    if "recorded_hash" in want:
        recorded = _norm(want["recorded_hash"])
        assert any(recorded in {_norm(h) for h in m.hashes.values()} for m in candidates), (
            f"hash {recorded} not recorded on {[m.to_dict() for m in candidates]}")


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row["file"])
def test_corpus_file(corpus: Path, row: dict[str, Any]) -> None:
    path = corpus / row["file"]
    if "error" in row:
        with pytest.raises(ReproError) as info:
            read_file(path)
        assert row["error"] in str(info.value)
        return
    gen = read_file(path)
    assert gen.tool == row["tool"]
    assert gen.metadata == row["metadata"]
    assert gen.level == row["level_max"], gen.reasons
    for key, value in row.get("params", {}).items():
        assert key in gen.params, f"param {key} missing"
        assert gen.params[key] == value, key
        assert type(gen.params[key]) is type(value), key  # seeds stay exact ints
    for want in row.get("models", []):
        _check_model(gen, want)
    for want in row.get("inputs", []):
        assert any(i.role == want["role"] and i.name == want["name"] for i in gen.inputs), want
    if "sampler_seeds" in row:
        seeds = sorted(s["seed"] for s in gen.params["samplers"] if "seed" in s)
        assert seeds == row["sampler_seeds"]
    if "text_contains" in row:
        dumped = orjson.dumps(gen.to_dict()).decode()
        for text in row["text_contains"]:
            assert text in dumped
    if gen.level != "full":
        assert gen.reasons


def test_corpus_is_complete(corpus: Path) -> None:
    listed = {row["file"] for row in ROWS}
    on_disk = {str(p.relative_to(corpus)) for p in corpus.glob("*/*")
               if p.parent.name != "LICENSES"}
    assert listed == on_disk
