"""The verdict on a model that is not on disk as recorded: restorable from the store
or from a remote (the level stays), or from nowhere (at most approximate); never ready
until it is back."""

from __future__ import annotations

import pytest

from repro.record.types import Assessment
from repro.verdict import Evidence, InputNow, ModelNow, assess, ready

RECORDED, NOW = "a" * 64, "b" * 64


@pytest.mark.parametrize(("status", "in_store", "remotes", "code", "level"), [
    ("missing", True, (), "model.missing", "full"),
    ("missing", False, ("origin",), "model.missing-on-remote", "full"),
    ("missing", False, (), "model.missing-not-in-store", "approximate"),
    ("changed", True, ("origin",), "model.changed", "full"),
    ("changed", False, ("nas", "origin"), "model.changed-on-remote", "full"),
    ("changed", False, (), "model.changed-not-in-store", "approximate"),
])
def test_where_the_recorded_version_is_decides_if_it_can_be_restored(
        status: str, in_store: bool, remotes: tuple[str, ...], code: str, level: str) -> None:
    evidence = Evidence(captured=Assessment("full", ()), models_now=(
        ModelNow("checkpoint base", status, RECORDED, NOW if status == "changed" else None,
                 in_store, "models/base.safetensors", remotes),))
    verdict = assess(evidence)
    assert verdict.codes == [code] and verdict.level == level
    assert ready(evidence, verdict.level) is False
    [text] = verdict.texts
    if remotes and not in_store:
        assert f"{', '.join(remotes)} ha" in text and "as of last sync" in text
        assert "repro checkout" in text
    elif not in_store:
        assert "nor on any remote" in text and "repro checkout" not in text


@pytest.mark.parametrize(("in_store", "remotes", "fix"), [
    (True, (), "run `repro checkout --inputs`"),
    (False, ("origin",), "remote origin has it (as of last sync): run `repro checkout --inputs`"),
    (False, (), "not in the store nor on any remote (as of last sync)"),
])
def test_an_input_gone_says_where_its_recorded_version_is(
        in_store: bool, remotes: tuple[str, ...], fix: str) -> None:
    evidence = Evidence(captured=Assessment("full", ()),
                        inputs_now=(InputNow("input source.png", "missing", in_store, remotes),))
    verdict = assess(evidence)
    assert verdict.codes == ["input.gone"] and fix in verdict.texts[0]
    assert ready(evidence, verdict.level) is False
