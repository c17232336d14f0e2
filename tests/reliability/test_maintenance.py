"""Maintenance loses nothing (issue 13, items 1, 5, 6, 8, 13): a large record
survives fsck, gc and repair; an empty index is rebuilt; damaged outputs heal
from identical bytes the user still has; one unreadable object is a problem,
not the end of fsck or gc; a record moved aside is named."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from repro.api.gc import gc
from repro.api.repository import Repository
from repro.capture.extracted import MAX_CHUNK
from repro.demo import write_a1111_png
from repro.record.codec import MAX_RECORD_BYTES
from tests.helpers import make_output, repro_subprocess, run, run_json

Capsys = pytest.CaptureFixture[str]


def _object(root: Path, oid: str) -> Path:
    return root / ".repro/objects" / oid[:2] / oid[2:]


def _fsck(capsys: Capsys, root: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run(capsys, "-C", root, "fsck", "--json", *extra)
    assert "Traceback" not in err and "internal error" not in err, err
    return code, orjson.loads(out)


def _big_a1111(root: Path, name: str, prompt_bytes: int, *, filler: str = "fox ") -> Path:
    prompt = (filler * (prompt_bytes // len(filler) + 1))[:prompt_bytes]
    text = (f"{prompt}\nNegative prompt: blur\nSteps: 20, Sampler: Euler, CFG scale: 7, "
            "Seed: 5, Size: 64x96, Model: base")
    return write_a1111_png(root / "outputs" / name, text, pixel_seed=len(name))


# -- item 1: a record over 16 MiB ---------------------------------------------------------

def test_a_32_mib_text_chunk_makes_a_record_that_maintenance_keeps(project: Path,
                                                                   capsys: Capsys) -> None:
    path = _big_a1111(project, "big.png", MAX_CHUNK - 4096)
    added = run_json(capsys, "-C", project, "add", path, "--no-env")
    [rec] = added["records"]
    rid = rec["id"]
    size = _object(project, rid).stat().st_size
    assert 16 * 2**20 < size <= MAX_RECORD_BYTES
    assert _fsck(capsys, project) == (0, {"problems": [], "repaired": []})
    code, report = _fsck(capsys, project, "--repair")
    assert code == 0 and "rebuilt the index (1 records)" in report["repaired"]
    assert run_json(capsys, "-C", project, "gc", "--grace-days", "0")["removed"] == 0
    shown = run_json(capsys, "-C", project, "show", rid)
    assert shown["id"] == rid
    for oid in (rid, shown["output"]["blake3"], *shown["source"]["blobs"].values()):
        assert _object(project, oid).is_file()
    (project / ".repro/index.sqlite").unlink()
    assert run_json(capsys, "-C", project, "show", str(path))["id"] == rid


def test_a_record_past_the_bound_is_refused_and_the_batch_goes_on(project: Path,
                                                                  capsys: Capsys) -> None:
    # Control characters are six bytes each in JSON: a 32 MiB chunk of them makes
    # a record far over the bound; that one file is skipped with the reason.
    _big_a1111(project, "huge.png", MAX_CHUNK - 4096, filler="\x01")
    make_output(project, "ok.png", seed=3)
    code, out, err = run(capsys, "-C", project, "add", project / "outputs", "--no-env",
                         "--json")
    assert code == 0, err
    result = orjson.loads(out)
    assert [Path(r["path"]).name for r in result["records"]] == ["ok.png"]
    [skipped] = result["skipped"]
    assert "huge.png" in skipped["path"] and "a record may hold" in skipped["reason"]
    assert _fsck(capsys, project)[0] == 0


def test_gc_keeps_an_oversized_record_it_cannot_read(project: Path, capsys: Capsys) -> None:
    """A record over the bound (written by someone else's repro) is never garbage,
    nor is anything it names; fsck says it was not read."""
    out = make_output(project, "o.png", seed=1)
    rec = run_json(capsys, "-C", project, "add", out, "--no-env")["records"][0]
    repo = Repository(project)
    raw = orjson.loads(repo.store.read_bytes(rec["id"]))
    raw["message"] = "x" * (MAX_RECORD_BYTES + 10)
    data = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)
    with repo.lock(), repo.store.batch():
        big = repo.store.put_bytes(data, group=1)
    repo.close()
    _object(project, rec["id"]).chmod(0o644)
    _object(project, rec["id"]).unlink()  # only the big record names the output now
    (project / ".repro/index.sqlite").unlink()
    repo = Repository(project)
    result = gc(repo, grace_days=0)
    repo.close()
    assert big not in result.objects and rec["output"] not in result.objects
    assert result.removed == 0
    code, report = _fsck(capsys, project)
    assert code != 0
    assert any(p["kind"] == "schema" and p.get("object") == big and "not read" in p["message"]
               for p in report["problems"])


# -- item 5: an index truncated to 0 bytes --------------------------------------------------

def test_an_index_truncated_to_zero_bytes_is_rebuilt(project: Path, capsys: Capsys) -> None:
    out = make_output(project, "o.png", seed=1)
    rid = run_json(capsys, "-C", project, "add", out, "--no-env")["records"][0]["id"]
    for suffix in ("-wal", "-shm"):
        (project / f".repro/index.sqlite{suffix}").unlink(missing_ok=True)
    (project / ".repro/index.sqlite").write_bytes(b"")
    for command in ("show", "verify"):
        proc = repro_subprocess(command, out, "--json", cwd=project)
        assert proc.returncode == 0, proc.stderr
        assert orjson.loads(proc.stdout)["id"] == rid


# -- item 6: heal from identical bytes --------------------------------------------------------

def _damage(root: Path, oid: str, how: str) -> None:
    path = _object(root, oid)
    path.chmod(0o644)
    if how == "missing":
        path.unlink()
    else:
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["missing", "corrupt"])
def test_repair_heals_an_output_from_its_recorded_path(project: Path, capsys: Capsys,
                                                        how: str) -> None:
    out = make_output(project, "o.png", seed=1)
    rec = run_json(capsys, "-C", project, "add", out, "--no-env")["records"][0]
    _damage(project, rec["output"], how)
    _, report = _fsck(capsys, project, "--repair")
    assert any(rec["output"] in line and "restored" in line for line in report["repaired"])
    assert _fsck(capsys, project) == (0, {"problems": [], "repaired": []})


@pytest.mark.parametrize("how", ["missing", "corrupt"])
def test_add_of_the_same_file_heals_its_output_and_metadata(project: Path, capsys: Capsys,
                                                            how: str) -> None:
    out = make_output(project, "o.png", seed=1)
    rec = run_json(capsys, "-C", project, "add", out, "--no-env")["records"][0]
    shown = run_json(capsys, "-C", project, "show", rec["id"])
    copy = project / "elsewhere.png"
    shutil.copyfile(out, copy)
    out.unlink()
    _damage(project, rec["output"], how)
    for blob in shown["source"]["blobs"].values():
        _damage(project, blob, how)
    if how == "corrupt":
        _fsck(capsys, project, "--repair")  # moves the damaged objects aside
    again = run_json(capsys, "-C", project, "add", copy, "--no-env")["records"][0]
    assert again["id"] == rec["id"] and again["existing"]
    assert _fsck(capsys, project) == (0, {"problems": [], "repaired": []})


# -- item 8: one unreadable object -----------------------------------------------------------

def _two_records(project: Path, capsys: Capsys) -> list[dict[str, Any]]:
    """Two records, one an ``add``: each object a file of its own (loose), which the
    tests below damage (packed objects: tests/objects/test_packs.py)."""
    return [run_json(capsys, "-C", project, "add", make_output(project, f"o{seed}.png", seed=seed),
                     "--no-env")["records"][0] for seed in (1, 2)]


def test_a_folder_where_an_object_should_be(project: Path, capsys: Capsys) -> None:
    recs = _two_records(project, capsys)
    bad = _object(project, recs[0]["output"])
    bad.chmod(0o644)
    bad.unlink()
    bad.mkdir()
    code, report = _fsck(capsys, project)
    assert code != 0
    assert any(p.get("object") == recs[0]["output"] for p in report["problems"])
    assert run_json(capsys, "-C", project, "gc", "--grace-days", "0")["removed"] == 0
    code, report = _fsck(capsys, project, "--repair")
    assert any("rebuilt the index (2 records)" in line for line in report["repaired"])


def test_an_object_nobody_may_read(project: Path, capsys: Capsys) -> None:
    """Mode bits stop root only without CAP_DAC_OVERRIDE: a record the process
    cannot open is simulated by an open() that fails for that one path."""
    recs = _two_records(project, capsys)
    bad = str(_object(project, recs[1]["id"]))
    real_open = os.open

    def denied(path: Any, *args: Any, **kw: Any) -> int:
        if os.fspath(path) == bad:
            raise PermissionError(13, "Permission denied", bad)
        return real_open(path, *args, **kw)

    mp = pytest.MonkeyPatch()
    import builtins

    real_builtin_open = builtins.open

    def denied_open(path: Any, *args: Any, **kw: Any) -> Any:
        if isinstance(path, str | os.PathLike) and os.fspath(path) == bad:
            raise PermissionError(13, "Permission denied", bad)
        return real_builtin_open(path, *args, **kw)

    mp.setattr(os, "open", denied)
    mp.setattr(builtins, "open", denied_open)
    try:
        code, report = _fsck(capsys, project)
        assert code != 0
        assert any(p.get("object") == recs[1]["id"] and "Permission denied" in p["message"]
                   for p in report["problems"])
        gone = run_json(capsys, "-C", project, "gc", "--grace-days", "0")
        assert gone["removed"] == 0
    finally:
        mp.undo()


# -- item 13: a record moved aside is named ---------------------------------------------------

def test_repair_says_which_record_it_moved_aside(project: Path, capsys: Capsys) -> None:
    recs = _two_records(project, capsys)
    rid = recs[0]["id"]
    _damage(project, rid, "corrupt")
    code, report = _fsck(capsys, project, "--repair")
    assert code == 0
    lost = [line for line in report["repaired"] if line.startswith(f"lost record {rid}")]
    assert lost and ".repro/corrupt/" in lost[0] and "o1.png" in lost[0], report["repaired"]
