"""A JSON list written item by item is the document written whole."""

from __future__ import annotations

from typing import Any

import pytest

from repro.cli.render import emit_json, emit_json_list


@pytest.mark.parametrize("items", [[], [{}], [1, "a\nb", {"k": [1, {"x": None}], "n": 2**64 - 1}],
                                   [[], {"nested": {"deep": ["z", 1.5]}}, "last"]])
def test_emit_json_list_writes_what_emit_json_writes(
        items: list[Any], capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    emit_json(items)
    whole = capsysbinary.readouterr().out
    emit_json_list(iter(items))
    assert capsysbinary.readouterr().out == whole
