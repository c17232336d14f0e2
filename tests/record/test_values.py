"""``value_class`` behaves as the dataclass it stands in for (record parts,
verdict evidence, capture types): same constructor, defaults, ``repr``,
equality, hashing, immutability, copies and pickles."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from collections.abc import Mapping

import pytest

from repro.record.types import ModelEntry, Output, Record, Tool
from repro.record.values import FrozenInstanceError, field, fields, replace, value_class


@value_class(frozen=True)
class Point:
    x: int
    y: int = 0
    tags: Mapping[str, str] = field(default_factory=dict)
    note: str = field(default="", compare=False)


@dataclasses.dataclass(frozen=True)
class PointDataclass:
    x: int
    y: int = 0
    tags: Mapping[str, str] = dataclasses.field(default_factory=dict)
    note: str = dataclasses.field(default="", compare=False)


@value_class
class Counter:
    name: str
    seen: list[str] = field(default_factory=list)


def test_constructor_defaults_and_repr_match_a_dataclass() -> None:
    for args, kwargs in (((1,), {}), ((1, 2), {"note": "n"}), ((), {"x": 3, "tags": {"a": "b"}})):
        ours, theirs = Point(*args, **kwargs), PointDataclass(*args, **kwargs)  # type: ignore[arg-type]
        assert repr(ours).replace("Point", "PointDataclass", 1) == repr(theirs)
    assert fields(Point) == ("x", "y", "tags", "note")
    assert Point.y == 0 and not hasattr(Point, "tags")  # as a dataclass leaves its class
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]


def test_each_instance_gets_its_own_default_from_the_factory() -> None:
    a, b = Counter("a"), Counter("b")
    a.seen.append("x")
    assert b.seen == []


def test_equality_and_hash_leave_out_uncompared_fields() -> None:
    assert Point(1, 2, note="a") == Point(1, 2, note="b")
    assert hash(Tool("comfyui", "0.3")) == hash(Tool("comfyui", "0.3"))
    assert Point(1, 2) != Point(1, 3)
    assert Point(1) != PointDataclass(1)  # another class is never equal
    assert Record(Output("a"), id="1") == Record(Output("a"), id="2")
    assert Record(Output("a"), id="1") != Record(Output("b"), id="1")


def test_frozen_values_refuse_assignment_and_mutable_ones_are_unhashable() -> None:
    p = Point(1)
    with pytest.raises(FrozenInstanceError):
        p.x = 2  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del p.x  # type: ignore[misc]
    c = Counter("a")
    c.name = "b"
    assert c == Counter("b")
    with pytest.raises(TypeError):
        hash(c)


def test_replace_copy_and_pickle_keep_every_field() -> None:
    record = Record(Output("a", size=3), tool=Tool("comfyui"),
                    models=(ModelEntry("checkpoint", recorded={"sha256": "ab"}),), id="x")
    changed = replace(record, message="m")
    assert changed.message == "m" and changed.id == "x" and changed.models == record.models
    for again in (copy.copy(record), copy.deepcopy(record), pickle.loads(pickle.dumps(record))):
        assert again == record and again.id == "x" and again.to_dict() == record.to_dict()
    with pytest.raises(TypeError):
        replace(record, colour="red")


def test_a_record_reads_back_to_the_same_dict() -> None:
    record = Record(Output("a", size=3, width=8), tool=Tool("comfyui", "0.3"),
                    models=(ModelEntry("lora", name="x", blake3="c", strength=0.5,
                                       hashes={"blake3": "c"}),))
    data = record.to_dict()
    assert data["output"] == {"blake3": "a", "size": 3, "width": 8}
    assert data["models"] == [{"role": "lora", "name": "x", "blake3": "c", "strength": 0.5,
                               "hashes": {"blake3": "c"}}]
    assert Record.from_dict(data).to_dict() == data
