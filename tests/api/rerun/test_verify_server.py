"""Issue 12 item 7: where repro knows the ComfyUI server, verify and checkout say that
its loader cache may hold other weights, and what to do; ``--free`` does it."""

from __future__ import annotations

import shutil

import pytest

from tests.api.rerun.conftest import Toy
from tests.helpers import run, run_json
from tests.paths import COMFYUI


def _cache_notes(reasons: list[str]) -> list[str]:
    return [r for r in reasons if "POST /free" in r]


def test_verify_names_the_loader_cache_and_frees_it_when_asked(
        toy: Toy, capsys: pytest.CaptureFixture[str]) -> None:
    frees = toy.fake.frees
    result = run_json(capsys, "-C", toy.project, "verify", toy.record.id)
    [note] = _cache_notes(result["reasons"])
    assert toy.fake.url in note and "repro verify --free" in note
    assert result["ready"] is True and result["level"] == "full"  # a note, not a doubt
    assert toy.fake.frees == frees

    result = run_json(capsys, "-C", toy.project, "verify", toy.record.id, "--free")
    assert toy.fake.frees == frees + 1
    [note] = _cache_notes(result["reasons"])
    assert "unloaded" in note and result["ready"] is True


def test_checkout_says_the_server_may_hold_the_other_version_and_frees_when_asked(
        toy: Toy, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copyfile(COMFYUI / "tiny_compact_x2_v2.safetensors", toy.model)
    frees = toy.fake.frees
    code, out, err = run(capsys, "-C", toy.project, "checkout", toy.record.id, "--force")
    assert code == 0, err
    assert "POST /free" in out and "--free" in out and toy.fake.frees == frees
    shutil.copyfile(COMFYUI / "tiny_compact_x2_v2.safetensors", toy.model)
    result = run_json(capsys, "-C", toy.project, "checkout", toy.record.id, "--force",
                      "--free")
    assert toy.fake.frees == frees + 1 and result["freed"] is True


def test_verify_without_a_known_server_says_nothing_of_it(
        toy: Toy, capsys: pytest.CaptureFixture[str]) -> None:
    rc = toy.project / ".reprorc"
    rc.write_text(rc.read_text().replace(f'url = "{toy.fake.url}"\n', ""))
    result = run_json(capsys, "-C", toy.project, "verify", toy.record.id)
    assert _cache_notes(result["reasons"]) == []
    code, _, err = run(capsys, "-C", toy.project, "verify", toy.record.id, "--free")
    assert code == 2 and "which ComfyUI server" in err
