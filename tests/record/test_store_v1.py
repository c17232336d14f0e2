"""A store written by repro a1408f9 (schema 1 records, index version 4) opens
with today's repro, is clean, and shows the same records, levels and verdicts.
The store and what that repro printed are in tests/fixtures/store-v1 (make.py
there made them)."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.helpers import run, run_json

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "store-v1"
Capsys = pytest.CaptureFixture[str]


@pytest.fixture
def old(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    with tarfile.open(FIXTURE / "project.tar.gz") as tar:
        tar.extractall(tmp_path, filter="tar")
    expected = orjson.loads((FIXTURE / "expected.json").read_bytes())
    return tmp_path / "project", expected


def _texts(reasons: list[Any]) -> list[str]:
    return [r["text"] if isinstance(r, dict) else r for r in reasons]


def test_old_store_is_clean(old: tuple[Path, dict[str, Any]], capsys: Capsys) -> None:
    root, _ = old
    code, out, err = run(capsys, "-C", root, "fsck", "--json")
    assert code == 0, out + err
    assert orjson.loads(out)["problems"] == []


def test_old_store_shows_the_same(old: tuple[Path, dict[str, Any]], capsys: Capsys) -> None:
    root, expected = old
    log = run_json(capsys, "-C", root, "log")
    assert [r["id"] for r in log] == [r["id"] for r in expected["log"]]
    for now, then in zip(log, expected["log"], strict=True):
        assert now["schema"] == "repro.record/1"
        assert now["output"] == then["output"]
        assert now["params"] == then["params"] and now["tool"] == then["tool"]
        assert now["reproducibility"]["level"] == then["reproducibility"]["level"]
        assert _texts(now["reproducibility"]["reasons"]) == then["reproducibility"]["reasons"]
        assert [p["id"] for p in now["parents"]] == then["parents"]
        assert [(m["role"], m.get("name"), m.get("blake3")) for m in now["models"]] == \
            [(m["role"], m.get("name"), m.get("blake3")) for m in then["models"]]
    code, out, _ = run(capsys, "-C", root, "verify", "--json")
    verify = orjson.loads(out)
    assert [(v["id"], v["level"], v["ready"], v["reasons"]) for v in verify] == \
        [(v["id"], v["level"], v["ready"], v["reasons"]) for v in expected["verify"]]
    assert code == 1  # two records are not ready, then as now
    tagged = run_json(capsys, "-C", root, "show", "first")
    assert tagged["message"] == "made by repro a1408f9"
