"""`repro log` shows the recipe in brief and filters as `git log` does; `show --full`;
a pager on a terminal."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from repro.api.log import parse_when
from repro.demo import model_bytes, write_safetensors
from repro.errors import UsageError
from tests.helpers import make_output, run, run_json


@pytest.fixture
def three(project: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    fox = make_output(project, "fox.png", seed=1, prompt="a red fox in snow, golden hour")
    owl = make_output(project, "owl.png", seed=2, prompt="an owl at night", lora=None)
    ids = {"fox": run_json(capsys, "-C", project, "add", fox)["records"][0]["id"],
           "owl": run_json(capsys, "-C", project, "add", owl, "--tag", "client-final")[
               "records"][0]["id"]}
    # a second version of the checkpoint, under the same name
    write_safetensors(project / "models/checkpoints/base.safetensors", model_bytes(9, 300_000))
    cat = make_output(project, "cat.png", seed=3, prompt="a cat in snow")
    ids["cat"] = run_json(capsys, "-C", project, "add", cat)["records"][0]["id"]
    return ids


def ids_of(capsys: pytest.CaptureFixture[str], project: Path, *args: str) -> list[str]:
    return [r["id"] for r in run_json(capsys, "-C", project, "log", *args)]


def test_log_shows_the_recipe_in_brief(project: Path, three: dict[str, str],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "-C", project, "log")
    assert code == 0
    assert "seed 1, " in out and "base.safetensors, style.safetensors 0.8" in out
    assert "a red fox in snow, golden hour" in out
    assert out.index(three["cat"][:12]) < out.index(three["fox"][:12])


def test_log_filters_by_prompt_words_tool_level_and_tag(
        project: Path, three: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert ids_of(capsys, project, "--grep", "snow") == [three["cat"], three["fox"]]
    assert ids_of(capsys, project, "--grep", "SNOW", "--grep", "fox") == [three["fox"]]
    assert ids_of(capsys, project, "--tool", "comfyui", "-n", "1") == [three["cat"]]
    assert ids_of(capsys, project, "--tool", "a1111") == []
    assert ids_of(capsys, project, "--tag", "client-*") == [three["owl"]]
    level = run_json(capsys, "-C", project, "show", three["fox"])["reproducibility"]["level"]
    assert three["fox"] in ids_of(capsys, project, "--level", level)
    other = "none" if level != "none" else "full"
    assert three["fox"] not in ids_of(capsys, project, "--level", other)


def test_log_filters_by_model_any_version_or_one(
        project: Path, three: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    everything = [three["cat"], three["owl"], three["fox"]]
    assert ids_of(capsys, project, "--model", "base.safetensors") == everything
    # the file on disk now is the second version: only the cat used it
    assert ids_of(capsys, project, "--model", "models/checkpoints/base.safetensors") == [
        three["cat"]]
    fox = run_json(capsys, "-C", project, "show", three["fox"])
    old = next(m["blake3"] for m in fox["models"] if m["role"] == "checkpoint")
    assert ids_of(capsys, project, "--model", old[:10]) == [three["owl"], three["fox"]]
    assert ids_of(capsys, project, "--model", "style.safetensors") == [three["cat"], three["fox"]]


def test_log_filters_by_date_and_an_ancestry(project: Path, three: dict[str, str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert len(ids_of(capsys, project, "--since", "1 hour ago")) == 3
    assert ids_of(capsys, project, "--until", "2020-01-01") == []
    assert ids_of(capsys, project, three["fox"], "--grep", "fox") == [three["fox"]]


def test_a_bad_date_is_a_usage_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "-C", project, "log", "--since", "someday")
    assert code == 2 and "not a date: 'someday'" in err


def test_parse_when() -> None:
    now = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)
    assert parse_when("3 days ago", now=now) == datetime(2026, 3, 7, 15, 30, tzinfo=UTC)
    assert parse_when("2w", now=now) == datetime(2026, 2, 24, 15, 30, tzinfo=UTC)
    assert parse_when("yesterday", now=now) == datetime(2026, 3, 9, tzinfo=UTC)
    assert parse_when("2026-03-01") == datetime(2026, 3, 1, tzinfo=UTC)
    with pytest.raises(UsageError):
        parse_when("next tuesday")


def test_show_cuts_long_prompts_unless_full(project: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    long = " ".join(f"word{i}" for i in range(200))
    rid = run_json(capsys, "-C", project, "add",
                   make_output(project, "long.png", seed=5, prompt=long))["records"][0]["id"]
    _, out, _ = run(capsys, "-C", project, "show", rid)
    assert "word199" not in out and "..." in out
    _, out, _ = run(capsys, "-C", project, "show", rid, "--full")
    assert "word199" in out
    assert "blob      prompt" in out


def test_a_terminal_gets_a_pager(project: Path, three: dict[str, str],
                                 capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    import click

    paged: list[str] = []
    monkeypatch.setattr(click, "echo_via_pager", lambda text: paged.append("".join(text)))
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    code, out, _ = run(capsys, "-C", project, "log")
    assert code == 0 and out == ""
    assert three["fox"][:12] in paged[0]
    run(capsys, "-C", project, "show", three["fox"])
    assert len(paged) == 2
