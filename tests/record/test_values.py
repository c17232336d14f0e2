"""``value_class`` behaves as the dataclass it stands in for (record parts,
verdict evidence, capture types): same constructor, defaults, ``repr``,
equality, hashing, immutability, copies and pickles."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from collections.abc import Mapping
from typing import ClassVar

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


def test_one_compared_field_compares_as_a_dataclass_does() -> None:
    # A dataclass compares the tuple of its fields: the same NaN object is equal to
    # itself there, and the hash is the tuple's.
    @value_class(frozen=True)
    class Weight:
        value: float

    @dataclasses.dataclass(frozen=True)
    class WeightDataclass:
        value: float

    nan = float("nan")
    assert (Weight(nan) == Weight(nan)) == (WeightDataclass(nan) == WeightDataclass(nan))
    assert hash(Weight(0.5)) == hash(WeightDataclass(0.5))


def test_a_frozen_class_with_its_own_eq_is_hashable_as_a_dataclass_is() -> None:
    @value_class(frozen=True)
    class Named:
        name: str

        def __eq__(self, other: object) -> bool:
            return isinstance(other, Named) and self.name.lower() == other.name.lower()

    assert Named("a") == Named("A")
    assert hash(Named("a")) == hash(Named("a"))


def test_what_a_dataclass_refuses_is_refused() -> None:
    with pytest.raises(ValueError, match="mutable default"):
        @value_class
        class Shared:
            seen: list[str] = []  # noqa: RUF012
    with pytest.raises(TypeError, match="ClassVar"):
        @value_class(frozen=True)
        class Counted:
            made: ClassVar[int] = 0
            name: str = ""
