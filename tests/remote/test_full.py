"""A full remote: a folder remote on a 2 MiB tmpfs (mounted in a user and mount
namespace of its own, so no root is needed). The push fails with one line and
exit 11, nothing is half-visible, and once space is freed the push completes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from repro.api.repository import Repository
from tests.helpers import make_output, run, run_json

#: Runs inside the namespace, where NAS is the small tmpfs: fill it, push, free, push.
DRIVER = r"""
import contextlib, io, json, os, sys
from pathlib import Path
from repro.cli import main

project, nas = Path(sys.argv[1]), Path(sys.argv[2])
filler = nas / "filler"
with open(filler, "wb") as f:  # leave about 100 KiB: less than the push needs
    f.write(b"\0" * (os.statvfs(nas).f_bavail * os.statvfs(nas).f_frsize - 100 * 1024))

def push():
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["-C", str(project), "push"])
    return code, err.getvalue()

code, err = push()
after = sorted(str(p.relative_to(nas)) for p in nas.rglob("*") if p.is_file())
filler.unlink()
again, err2 = push()
clone = main(["clone", str(nas), sys.argv[3]])
print(json.dumps({"code": code, "err": err, "after": after, "again": again, "err2": err2,
                  "clone": clone}))
"""


def test_a_full_folder_remote(capsys: pytest.CaptureFixture[str], project: Path,
                              tmp_path: Path) -> None:
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare (util-linux) is not installed")
    paths = [make_output(project, f"f{i}.png", seed=80 + i) for i in range(2)]
    ids = [r["id"] for r in run_json(capsys, "-C", project, "add", *paths)["records"]]
    nas = tmp_path / "nas"
    nas.mkdir()
    run(capsys, "-C", project, "remote", "add", "origin", nas)
    proc = subprocess.run(
        [unshare, "--user", "--map-root-user", "--mount", "sh", "-c",
         'mount -t tmpfs -o size=2m tmpfs "$2" && exec "$0" -c "$1" "$3" "$2" "$4"',
         sys.executable, DRIVER, str(nas), str(project), str(tmp_path / "laptop")],
        capture_output=True, text=True, timeout=300)
    if proc.returncode and "mount" in proc.stderr and not proc.stdout:
        pytest.skip(f"cannot mount a tmpfs in a user namespace here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    lines = [line for line in got["err"].splitlines() if line.strip()]
    assert got["code"] == 11 and len(lines) == 2, got["err"]
    assert lines[0] == f"error: the remote folder {nas} is full (No space left on device)"
    assert lines[1].startswith("hint: free space on the share")
    # nothing half-visible: no index, no temp file; a pack that fitted (packs travel
    # side by side) is listed by nobody, and the next push finds it there
    assert [p for p in got["after"] if p != "filler" and not p.startswith("packs/")] == [], \
        got["after"]
    assert got["again"] == 0, got["err2"]
    assert got["clone"] == 0
    assert set(Repository.discover(tmp_path / "laptop").index.iter_ids()) == set(ids)
    assert Repository.discover(project).index.iter_ids()  # nothing lost locally
