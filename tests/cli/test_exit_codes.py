"""Exit codes as docs/cli.md gives them: 2 usage, 3 not found, 4 unusable input file."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.helpers import make_output, run, run_json


def one_error_line(err: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and lines[0].startswith("error:"), err
    assert all(line.startswith(("error:", "hint:")) for line in lines), err
    assert "Traceback" not in err


@pytest.mark.parametrize("args", [
    ("add", "missing.png"),
    ("add", "nosuchdir/"),
    ("inspect", "missing.png"),
    ("inspect", "/nonexistent.png"),
])
def test_a_missing_input_file_is_exit_4(project: Path, capsys: pytest.CaptureFixture[str],
                                        args: tuple[str, ...]) -> None:
    code, _, err = run(capsys, "-C", project, *args)
    assert code == 4, err
    one_error_line(err)
    assert args[1].rstrip("/") in err


def test_inspect_of_a_missing_file_needs_no_repository(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "-C", tmp_path, "inspect", "missing.png")
    assert code == 4, err


@pytest.mark.parametrize("args", [("diff", "outputs/a.png"),
                                  ("diff", "outputs/a.png", "outputs/a.png", "--now")])
def test_diff_needs_two_records_or_now(project: Path, capsys: pytest.CaptureFixture[str],
                                       args: tuple[str, ...]) -> None:
    img = make_output(project, "a.png", seed=1)
    run_json(capsys, "-C", project, "add", img)
    code, _, err = run(capsys, "-C", project, *args)
    assert code == 2, err
    one_error_line(err)


def test_a_missing_C_folder_is_a_usage_error(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "-C", tmp_path / "nope", "log")
    assert code == 2, err
    one_error_line(err)


def test_an_unknown_target_is_exit_3(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "-C", project, "show", "missing.png")
    assert code == 3, err
    one_error_line(err)


def test_inspect_reports_every_file_good_and_bad(project: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """One bad file does not hide the good ones: each is reported, then exit 4."""
    good = make_output(project, "a.png", seed=1)
    other = make_output(project, "b.png", seed=2)
    (project / "empty.png").write_bytes(b"")
    code, out, err = run(capsys, "-C", project, "inspect", "empty.png", good, "missing.png",
                         other)
    assert code == 4
    assert out.count("tool      comfyui") == 2 and "outputs/a.png" in out
    assert "empty.png" in err and "missing.png: no such file" in err
    assert "2 file(s) read, 2 could not be read" in err
    code, out, _ = run(capsys, "-C", project, "inspect", "empty.png", good, "--json")
    assert code == 4
    entries = orjson.loads(out)
    assert entries[0]["path"].endswith("empty.png") and entries[0]["exit_code"] == 4
    assert entries[1]["tool"]["name"] == "comfyui"


def test_inspect_of_a_folder_reads_it_as_add_does(project: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    make_output(project, "a.png", seed=1)
    make_output(project, "sub/b.png", seed=2)
    (project / "outputs" / "notes.txt").write_text("not an image")
    (project / "outputs" / ".hidden").mkdir()
    (project / "outputs" / ".hidden" / "c.png").write_bytes(b"")
    code, out, err = run(capsys, "-C", project, "inspect", "outputs", "--json")
    assert code == 0, err
    assert [Path(e["path"]).name for e in orjson.loads(out)] == ["a.png", "b.png"]
    code, _, err = run(capsys, "-C", project, "inspect", "outputs")
    assert code == 0 and "2 file(s) read, 0 could not be read, 1 not an image" in err


@pytest.mark.parametrize("args", [("diff",), ("log", "--bogus"), ("frob",), ("diff", "nothere")])
def test_usage_errors_are_one_line_and_a_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              args: tuple[str, ...]) -> None:
    code, out, err = run(capsys, "-C", tmp_path, *args)
    assert code == 2 and out == ""
    one_error_line(err)
    assert len(err.splitlines()) == 2 and err.splitlines()[1].startswith("hint: ")
