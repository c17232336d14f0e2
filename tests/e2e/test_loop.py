"""The loop that works, against the real ComfyUI 0.3.64: capture, checkout, re-run, pixels."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import Comfy
from tests.e2e.graphs import body, fixture_body, seeded_upscale, upscale
from tests.e2e.helpers import (
    b3,
    captured,
    executed_request,
    level,
    mean_abs_diff,
    repro,
    repro_json,
    require,
    same_pixels,
    show,
    watch_once,
)
from tests.e2e.server import FIXTURES, V1, V2

INPUT = "216c4f4a615f800d4c5035a58091983877faac3c5c024e6ee1f2df5903a234de"


def test_fixture_upscale_job_is_captured_full_and_reruns_pixel_identical(
        comfy: Comfy, project: Path) -> None:
    server = comfy.server
    entry = server.run(fixture_body("upscale_v1", n4_filename_prefix=comfy.prefix("upscale")))
    [out] = server.output_files(entry)

    evs = watch_once(project, server)
    assert captured(evs)[str(out)]["event"] == "captured"
    record = show(project, out)
    assert level(record) == "full", record["reproducibility"]
    assert record["tool"] == {"name": "comfyui", "version": "0.3.64"}
    [model] = record["models"]
    assert model["role"] == "upscaler" and model["name"] == "tiny_compact_x2.safetensors"
    assert model["blake3"] == b3(server.models / "tiny_compact_x2.safetensors") == V1
    [source] = record["inputs"]
    assert source["blake3"] == b3(server.input / "repro_input.png") == INPUT
    assert record["parents"] == []
    assert record["output"]["blake3"] == b3(out)
    # The executed prompt is the one POSTed.
    assert executed_request(project, record)["prompt"]["4"]["inputs"]["filename_prefix"] == \
        comfy.prefix("upscale")
    # The pixels are v1's: the fixture output v1 made, far from v2's.
    assert mean_abs_diff(out, FIXTURES / "repro_upscale_00001_.png") < 1.0
    assert mean_abs_diff(out, FIXTURES / "repro_upscale_00002_.png") > 20.0

    assert repro_json(project, "verify", out)["ready"] is True
    done = repro_json(project, "checkout", out)
    assert done["conflicts"] == [] and done["unavailable"] == []
    server.free()
    rerun = server.run(executed_request(project, record))
    [again] = server.output_files(rerun)
    assert again != out
    assert same_pixels(out, again)


def test_fixture_loadimage_job_records_its_input(comfy: Comfy, project: Path) -> None:
    server = comfy.server
    entry = server.run(fixture_body("loadimage", n3_filename_prefix=comfy.prefix("scaled")))
    [out] = server.output_files(entry)

    watch_once(project, server)
    record = show(project, out)
    assert level(record) == "full", record["reproducibility"]
    assert record["models"] == []
    assert [i["blake3"] for i in record["inputs"]] == [INPUT]
    assert same_pixels(out, FIXTURES / "repro_loadimage_00001_.png")


def test_seeded_jobs_same_seed_same_pixels(comfy: Comfy, project: Path) -> None:
    server = comfy.server

    def job(seed: int, name: str) -> Path:
        graph = seeded_upscale(image="repro_input.png", model="tiny_compact_x2.safetensors",
                               seed=seed, prefix=comfy.prefix(name))
        [out] = server.output_files(server.run(body(graph)))
        return out

    one, two = job(1, "seed1"), job(2, "seed2")
    server.free()  # else the same seed would be served from ComfyUI's cache, not recomputed
    one_again = job(1, "seed1again")
    assert not same_pixels(one, two)
    assert same_pixels(one, one_again)

    evs = watch_once(project, server)
    assert set(captured(evs)) == {str(one), str(two), str(one_again)}
    records = {p: show(project, p) for p in (one, two, one_again)}
    for path, record in records.items():
        assert level(record) == "full", (path, record["reproducibility"])
        assert [m["blake3"] for m in record["models"]] == [V1]
    # ImageAddNoise's seed is a parameter of each output (issue 12 item 14).
    assert {p: r["params"].get("seed") for p, r in records.items()} == \
        {one: 1, two: 2, one_again: 1}
    seeds = {p: executed_request(project, r)["prompt"]["2"]["inputs"]["seed"]
             for p, r in records.items()}
    assert seeds == {one: 1, two: 2, one_again: 1}
    diff = repro_json(project, "diff", one, two)
    assert diff["models"]["changed"] == []
    # Besides the file name prefix, the seed of ImageAddNoise is the one difference.
    changed = {c["node"]: c["inputs"] for c in diff["graph"]["changed"]}
    assert changed.pop("5") == {"filename_prefix": [comfy.prefix("seed1"), comfy.prefix("seed2")]}
    assert changed == {"2": {"seed": [1, 2]}}
    same = {c["node"] for c in repro_json(project, "diff", one, one_again)["graph"]["changed"]}
    assert same == {"5"}


def test_model_replaced_checkout_restores_it_and_the_rerun_matches(
        comfy: Comfy, project: Path) -> None:
    server = comfy.server
    name = comfy.name("x2.safetensors")
    model = comfy.model(name, 1)
    [first] = server.output_files(server.run(
        body(upscale(image="repro_input.png", model=name, prefix=comfy.prefix("v1")))))
    watch_once(project, server)

    comfy.model(name, 2)
    server.free()
    [second] = server.output_files(server.run(
        body(upscale(image="repro_input.png", model=name, prefix=comfy.prefix("v2")))))
    require(mean_abs_diff(first, second) > 20.0, "v2 weights give other pixels")
    watch_once(project, server)

    one, two = show(project, first), show(project, second)
    assert (level(one), level(two)) == ("full", "full"), (one["reproducibility"],
                                                          two["reproducibility"])
    assert [m["blake3"] for m in one["models"]] == [V1]
    assert [m["blake3"] for m in two["models"]] == [V2]
    verdict = repro_json(project, "verify", first, check=False)
    assert verdict["ready"] is False
    # v1's bytes are also the session's tiny_compact_x2.safetensors: found there by content.
    [status] = verdict["models"]
    assert status["status"] == "moved" and status["in_store"] is True
    assert Path(status["path"]) == server.models / "tiny_compact_x2.safetensors"

    assert repro(project, "checkout", first, check=False).returncode == 5  # would overwrite
    done = repro_json(project, "checkout", first, "--force")
    assert [r["blake3"] for r in done["restored"]] == [V1]
    assert b3(model) == V1
    server.free()
    [again] = server.output_files(server.run(executed_request(project, one)))
    assert same_pixels(first, again)


def test_model_replaced_while_cached_is_not_full(comfy: Comfy, project: Path) -> None:
    """The loader-cache trap: a file replaced under its name, no /free, no restart."""
    server = comfy.server
    name = comfy.name("x2.safetensors")
    comfy.model(name, 1)
    server.run(body(seeded_upscale(image="repro_input.png", model=name, seed=1,
                                   prefix=comfy.prefix("a"))))
    watch_once(project, server)

    comfy.model(name, 2)  # a plain copy: a new mtime
    second_graph = seeded_upscale(image="repro_input.png", model=name, seed=2,
                                  prefix=comfy.prefix("b"))
    entry = server.run(body(second_graph))
    [second] = server.output_files(entry)
    require("3" in next(d["nodes"] for n, d in entry["status"]["messages"]
                        if n == "execution_cached"), "the loader was served from the cache")
    watch_once(project, server)

    record = show(project, second)
    assert level(record) != "full"
    assert any("caches loaders" in r["text"] for r in record["reproducibility"]["reasons"])
