"""Tags and messages are never lost or moved silently (issue 16 item 8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import make_output, run, run_json

Capsys = pytest.CaptureFixture[str]


def test_tag_and_message_on_an_output_already_captured(project: Path, capsys: Capsys) -> None:
    img = make_output(project, "a.png", seed=7)
    [first] = run_json(capsys, "-C", project, "add", img)["records"]
    # The docs' own example, on an output captured before: both are kept.
    [rec] = run_json(capsys, "-C", project, "add", img, "--tag", "client-final",
                     "-m", "approved by the client")["records"]
    shown = run_json(capsys, "-C", project, "show", "client-final")
    assert shown["id"] == rec["id"] and shown["message"] == "approved by the client"
    assert shown["supersedes"] == first["id"]
    assert run_json(capsys, "-C", project, "tag") == [{"name": "client-final", "id": rec["id"]}]


def test_a_tag_moves_only_when_asked(project: Path, capsys: Capsys) -> None:
    a = make_output(project, "a.png", seed=1)
    b = make_output(project, "b.png", seed=2)
    [ra] = run_json(capsys, "-C", project, "add", a, "--tag", "final")["records"]
    code, _, err = run(capsys, "-C", project, "add", b, "--tag", "final")
    assert code == 5 and "tag 'final' already names record" in err and "repro tag -f" in err
    assert len(run_json(capsys, "-C", project, "log")) == 1  # refused before any capture
    [rb] = run_json(capsys, "-C", project, "add", b)["records"]
    code, _, err = run(capsys, "-C", project, "tag", "final", "outputs/b.png")
    assert code == 5
    assert run_json(capsys, "-C", project, "show", "final")["id"] == ra["id"]
    [moved] = run_json(capsys, "-C", project, "tag", "-f", "final", "outputs/b.png")
    assert moved == {"name": "final", "id": rb["id"], "was": ra["id"]}
    # Naming the record it already names is no move.
    assert run(capsys, "-C", project, "tag", "final", rb["id"][:10])[0] == 0


def test_list_and_delete(project: Path, capsys: Capsys) -> None:
    img = make_output(project, "a.png", seed=1)
    [rec] = run_json(capsys, "-C", project, "add", img)["records"]
    assert run_json(capsys, "-C", project, "tag") == []
    run_json(capsys, "-C", project, "tag", "one", rec["id"][:8])
    run_json(capsys, "-C", project, "tag", "two", "outputs/a.png")
    assert [t["name"] for t in run_json(capsys, "-C", project, "tag")] == ["one", "two"]
    code, out, _ = run(capsys, "-C", project, "tag", "-d", "one")
    assert code == 0 and "deleted tag one" in out
    assert [t["name"] for t in run_json(capsys, "-C", project, "tag")] == ["two"]
    code, _, err = run(capsys, "-C", project, "tag", "-d", "one")
    assert code == 3 and "no tag named 'one'" in err
    code, _, err = run(capsys, "-C", project, "tag", "bad/name", rec["id"])
    assert code == 2 and "invalid tag name" in err
