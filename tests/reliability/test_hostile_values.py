"""Values that gave internal errors (issue 13, items 3, 10, 11, 12): integers over
64 bits, a garbage tag file, a NUL in a recorded path, junk parent ids, a PNG
chunk with a bad CRC, a prompt nested 100,000 lists deep."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from repro.api.repository import Repository
from repro.demo import comfy_graph, write_a1111_png
from tests.capture.builders import chunk, png, text
from tests.helpers import make_output, record_bytes, record_of, run, run_json

Capsys = pytest.CaptureFixture[str]

HUGE_SEED = int("9" * 4000)


def _no_internal_error(err: str) -> None:
    assert "internal error" not in err and "Traceback" not in err, err


def _a1111(root: Path, name: str, *, seed: str = "5", size: str = "64x96") -> Path:
    infotext = (f"a fox\nNegative prompt: blur\nSteps: 20, Sampler: Euler, CFG scale: 7, "
                f"Seed: {seed}, Size: {size}, Model: base")
    return write_a1111_png(root / "outputs" / name, infotext, pixel_seed=len(name))


# -- item 3: integers over 64 bits ------------------------------------------------------------

def _hostile_numbers(root: Path) -> list[Path]:
    graph = comfy_graph(ckpt="base.safetensors", lora=None, lora_strength=1.0, seed=1,
                        prompt="a fox")
    for node in graph.values():
        if "seed" in node["inputs"]:
            node["inputs"]["seed"] = HUGE_SEED
    comfy = root / "outputs" / "comfy_huge.png"
    comfy.parent.mkdir(parents=True, exist_ok=True)
    comfy.write_bytes(png([text("prompt", json.dumps(graph))]))
    return [comfy, _a1111(root, "a1111_seed.png", seed=str(HUGE_SEED)),
            _a1111(root, "a1111_size.png", size=f"{10**23}x64")]


def test_integers_over_64_bits_are_kept_as_text_and_the_batch_goes_on(project: Path,
                                                                      capsys: Capsys) -> None:
    hostile = _hostile_numbers(project)
    make_output(project, "ok.png", seed=3)
    code, out, err = run(capsys, "-C", project, "add", project / "outputs", "--no-env",
                         "--json")
    _no_internal_error(err)
    assert code == 0, err
    result = orjson.loads(out)
    names = sorted(Path(r["path"]).name for r in result["records"])
    assert names == sorted([p.name for p in hostile] + ["ok.png"]), result["skipped"]
    for rec in result["records"]:
        shown = run_json(capsys, "-C", project, "show", rec["id"])
        params = shown["params"]
        if rec["path"].endswith(("comfy_huge.png", "a1111_seed.png")):
            assert params["seed"] == str(HUGE_SEED)
            assert any("params.seed" in w for w in shown["source"]["warnings"]), shown
    assert run_json(capsys, "-C", project, "fsck")["problems"] == []


@pytest.mark.parametrize("which", [0, 1, 2])
def test_inspect_json_of_integers_over_64_bits(tmp_path: Path, capsys: Capsys,
                                               which: int) -> None:
    path = _hostile_numbers(tmp_path)[which]
    code, out, err = run(capsys, "inspect", path, "--json")
    _no_internal_error(err)
    assert code == 0
    [result] = orjson.loads(out)
    assert result["params"]
    assert any("64 bits" in w or "exactly as text" in w for w in result["warnings"]), result


# -- item 10: a garbage tag file ------------------------------------------------------------------

@pytest.fixture
def captured(project: Path, capsys: Capsys) -> str:
    out = make_output(project, "o.png", seed=1)
    rid: str = run_json(capsys, "-C", project, "add", out, "--no-env")["records"][0]["id"]
    return rid


@pytest.mark.parametrize("garbage", [b"\xff\xfe\x00junk", b"not an id\n", b""])
def test_a_garbage_tag_file(project: Path, capsys: Capsys, captured: str,
                            garbage: bytes) -> None:
    (project / ".repro/refs/tags/x").write_bytes(garbage)
    for args in (("show", "x"), ("log", "x")):
        code, _, err = run(capsys, "-C", project, *args)
        _no_internal_error(err)
        assert code in (3, 7) and "tag x" in err, err
    code, _, err = run(capsys, "-C", project, "gc", "--grace-days", "0")
    _no_internal_error(err)
    assert code == 0
    assert run_json(capsys, "-C", project, "show", captured)["id"] == captured
    code, out, err = run(capsys, "-C", project, "fsck", "--json")
    assert code != 0
    assert any("tag x" in p["message"] for p in orjson.loads(out)["problems"])


# -- item 11: a NUL in a recorded path, junk parent ids ----------------------------------------------

def _foreign(root: Path, change: Any) -> str:
    """A record as someone else's store might hold it, written and indexed by hand."""
    repo = Repository(root)
    data = next(repo.iter_record_objects()).to_dict()
    change(data)
    data["message"] = "foreign"
    rid = repo.store.put_bytes(record_bytes(data))
    repo.index.add(record_of(data, rid))
    repo.close()
    return rid


def test_a_nul_byte_in_a_recorded_model_path(project: Path, capsys: Capsys,
                                            captured: str) -> None:
    def nul(data: dict[str, Any]) -> None:
        for m in data["models"]:
            m["path"] = "models/checkpoints/evil\x00.safetensors"

    rid = _foreign(project, nul)
    code, _, err = run(capsys, "-C", project, "checkout", rid, "--force")
    _no_internal_error(err)
    assert code == 5 and "NUL" in err


@pytest.mark.parametrize("junk", ["../x", "0" * 63, "zz" * 32])
def test_junk_parent_ids(project: Path, capsys: Capsys, captured: str, junk: str) -> None:
    def parent(data: dict[str, Any]) -> None:
        data["parents"] = [{"id": junk, "relation": "input"}]

    rid = _foreign(project, parent)
    for args in (("log", rid), ("graph", rid), ("show", rid)):
        code, _, err = run(capsys, "-C", project, *args)
        _no_internal_error(err)
        assert code in (0, 7), err
        assert "not an object id" not in err or "record" in err
    code, out, _ = run(capsys, "-C", project, "fsck", "--json")
    problems = orjson.loads(out)["problems"]
    assert any(p["kind"] == "schema" and p.get("object") == rid for p in problems), problems
    assert not any(p["kind"] == "missing" and p.get("object") == junk for p in problems)


# -- item 12: a PNG chunk with a bad CRC, a prompt nested 100,000 deep --------------------------

def _bad_crc(good: bytes) -> bytes:
    return good[:-4] + bytes([good[-4] ^ 0xFF]) + good[-3:]


def test_a_png_text_chunk_with_a_bad_crc_is_not_full(tmp_path: Path, capsys: Capsys) -> None:
    good = _a1111(tmp_path, "good.png").read_bytes()
    infotext = ("a fox\nNegative prompt: blur\nSteps: 20, Sampler: Euler, CFG scale: 7, "
                "Seed: 5, Size: 3x2, Model: base")
    bad = tmp_path / "bad.png"
    bad.write_bytes(png([_bad_crc(text("parameters", infotext))]))
    assert good
    [result] = run_json(capsys, "inspect", bad)
    assert result["level"] != "full"
    assert any("CRC" in w for w in result["warnings"]), result


@pytest.mark.parametrize("shape", ["list", "object"])
def test_a_prompt_nested_100000_deep_says_why(tmp_path: Path, capsys: Capsys,
                                              shape: str) -> None:
    deep = ("[" * 100_000 + "]" * 100_000) if shape == "list" else \
        ('{"a":' * 100_000 + "1" + "}" * 100_000)
    path = tmp_path / "deep.png"
    path.write_bytes(png([text("prompt", deep)]))
    code, out, err = run(capsys, "inspect", path, "--json")
    _no_internal_error(err)
    if code == 0:
        [result] = orjson.loads(out)
        assert any("deep" in w or "nested" in w for w in result["warnings"]), result
    else:
        assert code == 4 and ("deep" in err or "nested" in err), err


def test_nesting_in_an_inflated_chunk_too(tmp_path: Path, capsys: Capsys) -> None:
    import zlib

    deep = ("[" * 100_000 + "]" * 100_000).encode()
    path = tmp_path / "deep.png"
    path.write_bytes(png([chunk(b"zTXt", b"prompt\0\0" + zlib.compress(deep))]))
    code, out, err = run(capsys, "inspect", path, "--json")
    _no_internal_error(err)
    if code == 0:
        [result] = orjson.loads(out)
        assert any("deep" in w or "nested" in w for w in result["warnings"]), result
