"""Exit codes as docs/cli.md gives them: 2 usage, 3 not found, 4 unusable input file."""

from __future__ import annotations

from pathlib import Path

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
