"""Bad input gets one clear line and a non-zero exit; the store is never changed."""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

import orjson
import pytest
from PIL import Image

from tests.helpers import make_output, repro_subprocess, run

# <linux/prctl.h>, <linux/capability.h>
PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE = 1
CAP_DAC_READ_SEARCH = 2


def store_state(root: Path) -> list[tuple[str, int]]:
    objects = root / ".repro" / "objects"
    return sorted((str(p.relative_to(objects)), p.stat().st_size)
                  for p in objects.rglob("*") if p.is_file())




def one_error_line(err: str) -> None:
    lines = [line for line in err.splitlines() if line]
    assert lines and lines[0].startswith("error: "), err
    assert all(line.startswith(("error: ", "hint: ", "skipped ")) for line in lines), err
    assert "Traceback" not in err


def bad_files(root: Path) -> dict[str, Path]:
    folder = root / "bad"
    folder.mkdir()
    empty = folder / "empty.png"
    empty.write_bytes(b"")
    good = make_output(root, "good.png", seed=3)
    truncated = folder / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:60])
    plain = folder / "plain.jpg"
    Image.new("RGB", (16, 16), "red").save(plain, "JPEG")
    good.unlink()
    return {"empty": empty, "truncated": truncated, "plain": plain}


@pytest.mark.parametrize("which", ["empty", "truncated", "plain"])
def test_add_refuses_and_leaves_the_store_unchanged(project: Path, which: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = bad_files(project)[which]
    before = store_state(project)
    code, out, err = run(capsys, "-C", project, "add", path)
    assert code == 4
    one_error_line(err)
    assert store_state(project) == before
    assert out == ""


@pytest.mark.parametrize("which", ["empty", "truncated"])
def test_inspect_refuses_unreadable_files(project: Path, which: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = bad_files(project)[which]
    code, _, err = run(capsys, "inspect", path)
    assert code == 4
    one_error_line(err)


def test_inspect_of_a_jpeg_without_metadata_says_so(project: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import orjson

    path = bad_files(project)["plain"]
    code, out, _ = run(capsys, "inspect", path, "--json")
    assert code == 0
    [result] = orjson.loads(out)
    assert result["tool"] is None and result["level"] == "none"


def test_folder_of_a_thousand_non_images(project: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    folder = project / "notes"
    folder.mkdir()
    for n in range(1000):
        (folder / f"note{n:04}.txt").write_text(f"note {n}\n")
    before = store_state(project)
    code, _out, err = run(capsys, "-C", project, "add", folder)
    assert code == 4
    assert "nothing captured (1000 file(s) skipped)" in err
    assert "Traceback" not in err
    assert store_state(project) == before


def test_real_subprocess_reports_one_line(project: Path) -> None:
    empty = project / "zero.png"
    empty.write_bytes(b"")
    proc = repro_subprocess("add", empty, cwd=project)
    assert proc.returncode == 4
    one_error_line(proc.stderr)
    proc = repro_subprocess("show", "no-such-thing", cwd=project)
    assert proc.returncode == 3
    one_error_line(proc.stderr)


def test_missing_file_argument(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "-C", project, "add", project / "nope.png")
    assert code == 4  # docs/cli.md: 4 unusable input file
    one_error_line(err)


def without_root_reads() -> None:
    """In a child process: give up root's right to read any file.

    CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH leave the bounding set, so the
    program the child execs never gets them and mode bits apply to it."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_unreadable_file(project: Path) -> None:
    path = make_output(project, "locked.png", seed=1)
    path.chmod(0)
    as_root = os.geteuid() == 0 and sys.platform == "linux"
    for command in ("add", "inspect"):
        proc = repro_subprocess(command, path, cwd=project,
                                preexec_fn=without_root_reads if as_root else None)
        assert proc.returncode == 4, proc.stderr  # docs/cli.md: 4 unusable input file
        one_error_line(proc.stderr)
        assert "locked.png" in proc.stderr


def test_an_unreadable_file_in_a_folder_is_skipped(project: Path) -> None:
    make_output(project, "good.png", seed=1)
    make_output(project, "locked.png", seed=2).chmod(0)
    as_root = os.geteuid() == 0 and sys.platform == "linux"
    proc = repro_subprocess("add", "outputs", "--json", cwd=project,
                            preexec_fn=without_root_reads if as_root else None)
    assert proc.returncode == 0, proc.stderr
    result = orjson.loads(proc.stdout)
    assert [Path(r["path"]).name for r in result["records"]] == ["good.png"]
    [skipped] = result["skipped"]
    assert skipped["path"].endswith("locked.png") and "cannot read" in skipped["reason"]
