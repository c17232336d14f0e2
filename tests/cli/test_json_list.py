"""A JSON list written item by item is the document written whole; lines
written in chunks are the lines written one by one."""

from __future__ import annotations

from typing import Any

import pytest

from repro.cli.render import echo_lines, emit_json, emit_json_list


@pytest.mark.parametrize("items", [[], [{}], [1, "a\nb", {"k": [1, {"x": None}], "n": 2**64 - 1}],
                                   [[], {"nested": {"deep": ["z", 1.5]}}, "last"]])
def test_emit_json_list_writes_what_emit_json_writes(
        items: list[Any], capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    emit_json(items)
    whole = capsysbinary.readouterr().out
    emit_json_list(iter(items))
    assert capsysbinary.readouterr().out == whole


@pytest.mark.parametrize("count", [0, 1, 2, 3, 7])
def test_echo_lines_in_chunks_writes_a_line_each(
        count: int, capsys: pytest.CaptureFixture[str]) -> None:
    lines = [f"line {n}" for n in range(count)]
    echo_lines(iter(lines), chunk=2)
    assert capsys.readouterr().out == "".join(f"{line}\n" for line in lines)
