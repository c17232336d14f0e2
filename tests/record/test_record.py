"""The record leaf package: round trips, schema 1 read back, every check."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from repro.record import (
    SCHEMA,
    Record,
    SchemaError,
    canonical_bytes,
    check,
    exact_numbers,
    from_bytes,
    looks_like_record,
    normalise_hash,
    record_id,
)

B1, B2, B3 = "1" * 64, "2" * 64, "3" * 64


def v1_record(**over: Any) -> dict[str, Any]:
    """A record as the code of schema 1 wrote it."""
    record: dict[str, Any] = {
        "schema": "repro.record/1",
        "output": {"blake3": B1, "sha256": "ab" * 32, "path": "out/a.png", "size": 10,
                   "media_type": "image/png", "width": 8, "height": 8,
                   "mtime": "2026-01-01T00:00:00.000Z"},
        "tool": {"name": "a1111", "version": "v1.10.1"},
        "params": {"seed": 2**64 - 1, "steps": 20, "cfg": 7.0, "Hires upscaler": "Latent",
                   "samplers": [{"node": "3", "seed": 1}]},
        "models": [
            {"role": "checkpoint", "name": "dream", "path": "models/dream.safetensors",
             "blake3": B2, "size": 5, "hashes": {"sha256": "cd" * 32, "blake3": B2},
             "found_by": "hash"},
            {"role": "lora", "name": "gone", "strength": 0.8, "hashes": {"sha256": "abcdef0123"}},
        ],
        "inputs": [{"role": "init_image", "hashes": {"sha256": "0" * 32}}],
        "parents": [B3],
        "source": {"format": "a1111-png", "formats": ["a1111-png"], "metadata": "execution",
                   "blobs": {"parameters": B3}},
        "environment": None,
        "reproducibility": {"level": "approximate", "reasons": ["lora gone: not found"]},
        "captured": {"at": "2026-01-01T00:00:00.000Z", "host": "h", "user": "u",
                     "store_mode": "copy"},
        "message": "",
    }
    record.update(over)
    return record


def test_schema_1_reads_back_in_schema_2_shape() -> None:
    data = v1_record()
    assert check(data) == []
    record = Record.from_dict(data)
    assert record.schema == "repro.record/1"
    assert record.parents[0].id == B3 and record.parents[0].relation == "input"
    assert record.assessment.reasons[0].code == "unspecified"
    assert record.assessment.texts == ["lora gone: not found"]
    # A model that was not found kept what the file recorded under ``hashes``.
    assert record.models[1].recorded == {"sha256": "abcdef0123"} and not record.models[1].hashes
    assert record.models[0].hashes["blake3"] == B2 and record.models[0].found_by == "hash"
    assert record.inputs[0].recorded == {"sha256": "0" * 32}
    assert record.params.get("Hires upscaler") == "Latent"
    assert record.params.samplers[0]["seed"] == 1


def test_schema_2_round_trips_byte_for_byte() -> None:
    record = Record.from_dict(v1_record())
    data = record.to_dict()
    data["schema"] = SCHEMA
    again = Record.from_dict(orjson.loads(orjson.dumps(data)))
    assert again.to_dict() == data
    assert check(data) == []
    raw = canonical_bytes(again)
    assert looks_like_record(raw) and from_bytes(raw) == again
    assert record_id(raw) == record_id(canonical_bytes(from_bytes(raw)))


@pytest.mark.parametrize(("change", "problem"), [
    ({"schema": "repro.record/9"}, "schema is"),
    ({"parents": ["../x"]}, "not a record id"),
    ({"parents": [{"id": B3, "relation": "cousin"}]}, "relation"),
    ({"output": {"blake3": "nothex"}}, "output.blake3"),
    ({"output": {"blake3": B1, "path": "a\x00b"}}, "NUL"),
    ({"output": {"blake3": B1, "colour": "red"}}, "undeclared field 'colour'"),
    ({"tool": {"name": "photoshop"}}, "tool.name"),
    ({"models": [{"role": "wizard"}]}, "role"),
    ({"models": [{"role": "lora", "path": "m\x00"}]}, "NUL"),
    ({"models": [{"role": "lora", "strength": "0.8"}]}, "strength is not a number"),
    ({"models": [{"role": "lora", "hashes": {"sha256": "ABC"}}]}, "lower-case hex"),
    ({"params": {"seed": 10**30}}, "cannot carry exactly"),
    ({"reproducibility": {"level": "perfect", "reasons": []}}, "level"),
    ({"source": {"blobs": {"prompt": "x"}}}, "source.blobs"),
    ({"message": 3}, "message"),
])
def test_check_names_each_problem(change: dict[str, Any], problem: str) -> None:
    problems = check(v1_record(**change))
    assert any(problem in p for p in problems), problems


def test_schema_2_reasons_and_parents_must_be_objects() -> None:
    data = v1_record(schema=SCHEMA)
    problems = check(data)
    assert any("parents[0] is not an object" in p for p in problems)
    assert any("reasons[0] is not a reason" in p for p in problems)


def test_from_dict_refuses_shapes_no_schema_gives() -> None:
    with pytest.raises(SchemaError):
        Record.from_dict(v1_record(models={"role": "lora"}))
    with pytest.raises(SchemaError):
        Record.from_dict(v1_record(output={"path": "x"}))


def test_exact_numbers_keeps_huge_integers_as_text() -> None:
    value, where = exact_numbers({"seed": 10**4000 + 1, "steps": 20, "s": [2**70]}, "params")
    assert value["seed"] == str(10**4000 + 1) and value["steps"] == 20
    assert value["s"] == [str(2**70)]
    assert where == ["params.seed", "params.s[0]"]
    value, _ = exact_numbers(10**5000)
    assert int(value, 16) == 10**5000


@pytest.mark.parametrize(("raw", "want"), [
    ("0xABCDEF12", "abcdef12"), ("sha256:ABCD", "abcd"), ("blake3:" + B1, B1),
    (" 1234abcd ", "1234abcd"), ("xyz", None), ("", None), (12, None), ("a" * 129, None),
])
def test_normalise_hash(raw: Any, want: str | None) -> None:
    assert normalise_hash(raw) == want


@given(st.dictionaries(st.text(min_size=1, max_size=8),
                       st.one_of(st.integers(), st.text(max_size=20),
                                 st.floats(allow_nan=False, allow_infinity=False)),
                       max_size=6))
def test_any_params_round_trip(params: dict[str, Any]) -> None:
    params = exact_numbers(params)[0]
    params.pop("samplers", None)
    record = Record.from_dict(v1_record(params=params))
    assert from_bytes(canonical_bytes(record)).params.to_dict() == params
