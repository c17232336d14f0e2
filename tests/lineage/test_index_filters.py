"""``filtered_ids``: the records ``repro log`` lists without a target, newest first;
narrowed to a set of ids (tagged records) it finds them by lookups, in the order a
pass over every record gives."""

from __future__ import annotations

import sqlite3
from typing import Any

from repro.lineage.index import Index, filtered_ids
from tests.helpers import record_of

CKPT, LORA = "3" * 64, "1" * 64


def rec(n: int, at: str | None, *blake3s: str) -> Any:
    return record_of({"output": {"blake3": f"{n:064x}"}, "captured": {"at": at},
                      "models": [{"role": "lora", "name": f"m{b[0]}.safetensors", "blake3": b}
                                 for b in blake3s]})


def test_narrowed_to_some_ids_the_order_is_that_of_the_whole_list() -> None:
    index = Index(sqlite3.connect(":memory:", isolation_level=None))
    # two records captured at the same time (ordered by id), one at no known time
    records = [rec(1, "2025-01-01T00:00:01Z", CKPT), rec(2, "2025-01-01T00:00:03Z", CKPT, LORA),
               rec(3, "2025-01-01T00:00:03Z", CKPT), rec(4, None, LORA),
               rec(5, "2025-01-01T00:00:02Z", LORA), rec(6, "2025-01-01T00:00:04Z", CKPT)]
    index.load(records)
    every = list(filtered_ids(index.conn))
    assert len(every) == 6 and every[-1] == records[3].id and every[0] == records[5].id
    some = {r.id for r in records[1:5]} | {"f" * 64}  # and an id no record has
    assert list(filtered_ids(index.conn, among=some)) == [i for i in every if i in some]
    with_lora = list(filtered_ids(index.conn, models=[LORA]))
    assert list(filtered_ids(index.conn, models=[LORA], among=some)) == [
        i for i in with_lora if i in some] == [records[1].id, records[4].id, records[3].id]
    assert list(filtered_ids(index.conn, since="2025-01-01T00:00:03Z", among=some)) == [
        i for i in every[:3] if i in some]
    assert list(filtered_ids(index.conn, among=set())) == []
