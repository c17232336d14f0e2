"""Receipts as the verdict's evidence (pure), and as objects a store keeps."""

from __future__ import annotations

from pathlib import Path

import pytest

from repro.api.repository import Repository
from repro.record import Assessment, Reason
from repro.record.receipt import Receipt
from repro.verdict import Evidence, ModelNow, Rerun, assess, ready

DOUBT = Assessment("approximate", (Reason("server", "upscaler x: perhaps cached"),))
OK = (ModelNow("upscaler x", "ok", "a" * 64, in_store=True),)


@pytest.mark.parametrize("reruns, level, is_ready, code", [
    ((), "approximate", True, None),
    ((Rerun("exact", "reproduced exactly", True),), "full", True, "rerun.exact"),
    ((Rerun("exact", "reproduced exactly", False),), "approximate", True, "rerun.exact"),
    ((Rerun("exact", "reproduced exactly", None),), "approximate", True, "rerun.exact"),
    ((Rerun("different", "came back different", True),), "approximate", False,
     "rerun.different"),
    ((Rerun("different", "different", True), Rerun("exact", "exact", True)), "full", True,
     "rerun.exact"),
    ((Rerun("exact", "exact", True), Rerun("different", "different", True)), "approximate",
     False, "rerun.different"),
    ((Rerun("exact", "exact", True), Rerun("failed", "failed: OOM", True)), "full", True,
     "rerun.failed"),
])
def test_an_exact_rerun_here_settles_doubts_and_a_different_one_is_not_ready(
        reruns: tuple[Rerun, ...], level: str, is_ready: bool, code: str | None) -> None:
    evidence = Evidence(captured=DOUBT, models_now=OK, reruns=reruns)
    verdict = assess(evidence)
    assert verdict.level == level
    assert ready(evidence, verdict.level) is is_ready
    if code:
        assert code in verdict.codes


def test_an_exact_rerun_does_not_hide_a_model_changed_since() -> None:
    changed = (ModelNow("upscaler x", "changed", "a" * 64, "b" * 64, in_store=True),)
    evidence = Evidence(captured=DOUBT, models_now=changed,
                        reruns=(Rerun("exact", "exact", True),))
    assert ready(evidence, assess(evidence).level) is False


def test_receipts_round_trip_and_are_linked_to_their_record(tmp_path: Path) -> None:
    repo = Repository.init(tmp_path)
    target = "c" * 64
    env = {"tool": "comfyui", "tool_version": "0.3.64",
           "tool_commit": "a125cd84b054a57729b5eecab930ca9408719832",
           "torch": {"version": "2.14.1"}, "gpu": []}
    stored = repo.receipts.add(Receipt(target=target, at="2026-12-03T10:00:00Z",
                                       outcome="exact", max_abs_diff=0, environment=env))
    assert stored.id in repo.store
    [back] = repo.receipts.of(target)
    assert back == stored and back.id == stored.id
    assert back.summary() == ("reproduced exactly on 2026-12-03 with ComfyUI 0.3.64 a125cd8, "
                              "torch 2.14.1, CPU")
    assert stored.id in set(repo.receipts.kept())
    assert repo.receipts.of("d" * 64) == []
    with pytest.raises(ValueError):
        Receipt.from_bytes(b'{"schema":"repro.record/2"}')
