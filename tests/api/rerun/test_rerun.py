"""``repro rerun`` against the fake ComfyUI: exact, refused, restored, different,
and every failure as one line with its exit status."""

from __future__ import annotations

import shutil

import orjson
import pytest

from repro.api.gc import gc
from tests.api.rerun.conftest import Toy
from tests.helpers import run, run_json
from tests.paths import COMFYUI


def test_rerun_is_exact_and_leaves_a_receipt_that_show_log_and_verify_use(
        toy: Toy, capsys: pytest.CaptureFixture[str]) -> None:
    frees = toy.fake.frees
    result = run_json(capsys, "-C", toy.project, "rerun", toy.record.id)
    assert result["outcome"] == "exact" and result["max_abs_diff"] == 0
    assert toy.fake.frees == frees + 1 and result["freed"] >= 0
    [new] = result["records"]
    receipt = result["receipt"]
    assert receipt["target"] == toy.record.id and receipt["outcome"] == "exact"
    assert receipt["summary"].startswith("reproduced exactly on ")
    repo = toy.repo()
    if not new["existing"]:
        child = repo.load_record(new["id"])
        assert [(p.id, p.relation) for p in child.parents] == [(toy.record.id, "rerun-of")]
    assert [r.id for r in repo.receipts.of(toy.record.id)] == [receipt["id"]]
    shown = run_json(capsys, "-C", toy.project, "show", toy.record.id)
    assert [r["outcome"] for r in shown["receipts"]] == ["exact"]
    logged = run_json(capsys, "-C", toy.project, "log")
    assert any(r["receipts"] for r in logged)
    verified = run_json(capsys, "-C", toy.project, "verify", toy.record.id)
    assert verified["ready"] is True and "rerun.exact" in verified["codes"]
    code, out, _ = run(capsys, "-C", toy.project, "show", toy.record.id)
    assert code == 0 and "reproduced exactly on" in out
    # gc keeps receipts: they are linked, not garbage.
    assert receipt["id"] not in gc(repo, grace_days=0).objects


def test_a_model_replaced_under_its_name_is_refused_then_restored_and_exact(
        toy: Toy, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copyfile(COMFYUI / "tiny_compact_x2_v2.safetensors", toy.model)
    code, out, err = run(capsys, "-C", toy.project, "rerun", toy.record.id)
    assert code == 10 and out == ""
    assert err.startswith("error: ") and "hint: " in err and len(err.splitlines()) == 2
    assert toy.repo().receipts.of(toy.record.id) == []
    code, _, err = run(capsys, "-C", toy.project, "rerun", toy.record.id, "--checkout")
    assert code == 5, err  # the file on disk differs: --force is needed
    result = run_json(capsys, "-C", toy.project, "rerun", toy.record.id, "--checkout",
                      "--force")
    assert result["outcome"] == "exact", result
    assert [r["path"] for r in result["restored"]]


def test_a_rerun_that_differs_is_measured_explained_and_makes_it_not_ready(
        toy: Toy, capsys: pytest.CaptureFixture[str]) -> None:
    toy.fake.jitter = True
    code, out, _ = run(capsys, "-C", toy.project, "rerun", toy.record.id, "--json")
    assert code == 1
    result = orjson.loads(out)
    assert result["outcome"] == "different"
    assert 0 < result["max_abs_diff"] <= 255 and result["psnr"] > 0
    assert result["explain"]
    repo = toy.repo()
    assert result["diff_image"] in repo.store
    assert repo.store.read_bytes(result["diff_image"])[:8] == b"\x89PNG\r\n\x1a\n"
    code, out, _ = run(capsys, "-C", toy.project, "verify", toy.record.id, "--json")
    verified = orjson.loads(out)
    assert code == 1 and verified["ready"] is False and "rerun.different" in verified["codes"]
    assert verified["level"] == "approximate"


def test_without_free_a_cached_loader_serves_the_old_weights(
        toy: Toy, capsys: pytest.CaptureFixture[str]) -> None:
    """The trap POST /free closes: v2 on disk, v1 in the server's cache."""
    shutil.copyfile(COMFYUI / "tiny_compact_x2_v2.safetensors", toy.model)
    code, _, _ = run(capsys, "-C", toy.project, "rerun", toy.record.id)
    assert code == 10  # never run, never called exact, while the disk holds another version


@pytest.mark.parametrize("break_it, code, words", [
    ("down", 8, "no answer"),
    ("node", 9, "no node class for: node 2 ImageAddNoise (from comfy-core 0.3.64)"),
    ("model", 9, "not found"),
    ("noserver", 2, "which ComfyUI server"),
])
def test_failures_are_one_line_with_their_exit_status(
        toy: Toy, capsys: pytest.CaptureFixture[str], break_it: str, code: int,
        words: str) -> None:
    rc = toy.project / ".reprorc"
    if break_it == "down":
        rc.write_text(rc.read_text().replace(toy.fake.url, "http://127.0.0.1:9"))
    elif break_it == "node":
        toy.fake.classes.remove("ImageAddNoise")
    elif break_it == "model":
        # In place for repro, but not where the server looks (another machine's folder).
        toy.fake.load_from = toy.fake.root / "elsewhere"
    elif break_it == "noserver":
        rc.write_text(rc.read_text().replace(f'url = "{toy.fake.url}"\n', ""))
    got, out, err = run(capsys, "-C", toy.project, "rerun", toy.record.id)
    assert got == code, err
    assert out == "" and err.startswith("error: ") and words in err
    assert all(line.startswith(("error: ", "hint: ")) for line in err.splitlines())
    if break_it == "model":
        [receipt] = toy.repo().receipts.of(toy.record.id)
        assert receipt.outcome == "failed"
