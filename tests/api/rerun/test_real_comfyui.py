"""``rerun``, ``vary``, ``variations`` and ``export`` against the real ComfyUI 0.3.64,
with decoded pixels as the judge. Uses the end-to-end harness (tests/e2e: the
vendored source, a cached venv, the toy upscalers); skips where it cannot run."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

srv = pytest.importorskip("tests.e2e.server")
graphs = pytest.importorskip("tests.e2e.graphs")
e2e = pytest.importorskip("tests.e2e.helpers")

V2 = "tiny_compact_x2_v2.safetensors"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    try:
        tree = srv.source_tree()
        python = srv.python_for(tree)
        comfy = srv.Server.prepare(tree, python, tmp_path_factory.mktemp("rr") / "ComfyUI")
        comfy.start()
    except srv.Unavailable as exc:
        if srv.REQUIRED and srv.SOURCE is not None:
            pytest.fail(f"COMFYUI_E2E_REQUIRED is set: {exc}", pytrace=False)
        pytest.skip(str(exc))
    try:
        yield comfy
    finally:
        comfy.stop()


@pytest.fixture
def project(tmp_path: Path, server: Any) -> Path:
    server.clear_history()
    server.free()
    shutil.copyfile(srv.FIXTURES / "tiny_compact_x2.safetensors",
                    server.models / "tiny_compact_x2.safetensors")
    where = tmp_path / "proj"
    where.mkdir()
    (where / ".reprorc").write_text(f'[comfyui]\nroot = "{server.root}"\nurl = "{server.url}"\n')
    e2e.repro(where, "init")
    return where


def _captured_job(server: Any, project: Path, prefix: str, seed: int = 7) -> Path:
    graph = graphs.seeded_upscale(image="repro_input.png", model="tiny_compact_x2.safetensors",
                                  seed=seed, prefix=prefix)
    [out] = server.output_files(server.run(graphs.body(graph)))
    e2e.watch_once(project, server)
    return Path(out)


def _compared(result: dict[str, Any]) -> Path:
    [new] = [r for r in result["records"] if r["compared"]]
    return Path(new["path"])


def test_real_rerun_exact_refused_after_a_swap_and_exact_after_checkout(
        server: Any, project: Path) -> None:
    out = _captured_job(server, project, "rr/exact")
    target = e2e.show(project, out)["id"]

    result = e2e.repro_json(project, "rerun", target)
    assert result["outcome"] == "exact" and result["max_abs_diff"] == 0
    again = _compared(result)
    assert e2e.same_pixels(out, again if again.is_absolute() else project / again)
    assert result["receipt"]["summary"].startswith("reproduced exactly on")
    assert "ComfyUI 0.3.64" in result["receipt"]["summary"]
    verified = e2e.repro_json(project, "verify", target)
    assert verified["ready"] is True and "rerun.exact" in verified["codes"]

    # The upscaler replaced under the same name (the server may still cache v1).
    shutil.copyfile(srv.FIXTURES / V2, server.models / "tiny_compact_x2.safetensors")
    done = e2e.repro(project, "rerun", target, "--json", check=False)
    assert done.returncode in (1, 10), done.stderr
    if done.returncode == 1:
        assert orjson.loads(done.stdout)["outcome"] == "different"

    result = e2e.repro_json(project, "rerun", target, "--checkout", "--force")
    assert result["outcome"] == "exact"
    assert e2e.b3(server.models / "tiny_compact_x2.safetensors") == \
        e2e.b3(srv.FIXTURES / "tiny_compact_x2.safetensors")
    again = _compared(result)
    assert e2e.same_pixels(out, again if again.is_absolute() else project / again)


def test_real_vary_seed_makes_linked_records_that_variations_groups(
        server: Any, project: Path) -> None:
    out = _captured_job(server, project, "rr/vary")
    target = e2e.show(project, out)["id"]
    result = e2e.repro_json(project, "vary", target, "--seed", "11..13", "--sheet", "s.html")
    assert [r["value"] for r in result["runs"]] == [11, 12, 13]
    paths = [project / r["path"] if not Path(r["path"]).is_absolute() else Path(r["path"])
             for r in result["runs"]]
    # Pixels: each seed gives other noise, and none is the target's (seed 7).
    assert not any(e2e.same_pixels(out, p) for p in paths)
    assert not e2e.same_pixels(paths[0], paths[1])
    grouped = e2e.repro_json(project, "variations", target)
    [made] = grouped["made"]
    assert made["parameter"] == "seed"
    assert sorted(m["id"] for m in made["records"]) == sorted(r["record"] for r in result["runs"])
    for r in result["runs"]:
        parents = e2e.show(project, r["record"])["parents"]
        assert parents == [{"id": target, "relation": "variation-of",
                            "changed": {"seed": r["value"]}}]
    assert (project / "s.html").read_text().count("<figure>") == 4


def test_real_export_api_equals_the_executed_prompt(server: Any, project: Path) -> None:
    out = _captured_job(server, project, "rr/export")
    record = e2e.show(project, out)
    exported = e2e.repro_json(project, "export", out, "--format", "api")
    assert exported == e2e.executed_request(project, record)["prompt"]
    # ... and it runs: POST /prompt with it gives the same pixels.
    server.free()
    [again] = server.output_files(server.run({"prompt": exported}))
    assert e2e.same_pixels(out, again)
