"""The "done when" scenario: parents with no --parent, uses, variations, diff, graph."""

from __future__ import annotations

from pathlib import Path

import pytest

from repro.api.repository import Repository
from repro.demo import comfy_graph, model_bytes, write_safetensors
from tests.helpers import run, run_json
from tests.lineage.scenario import CKPT, LORA, PROMPT, Scenario, build, generate


@pytest.fixture
def scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Scenario:
    sc = build(tmp_path)
    assert run(capsys, "-C", tmp_path, "init")[0] == 0
    return sc


def ids_by_name(capsys: pytest.CaptureFixture[str], sc: Scenario) -> dict[str, str]:
    added = run_json(capsys, "-C", sc.root, "add", "outputs", "--no-env")
    return {Path(r["path"]).name: r["id"] for r in added["records"]}


def test_parents_are_found_without_being_told(
        scenario: Scenario, capsys: pytest.CaptureFixture[str]) -> None:
    ids = ids_by_name(capsys, scenario)
    assert len(ids) == 6
    repo = Repository.discover(scenario.root)
    assert repo.index.parents(ids["img2img.png"]) == [ids["base.png"]]
    assert repo.index.parents(ids["upscaled.png"]) == [ids["img2img.png"]]
    for name in ("base.png", "strength.png", "seed_a.png", "seed_b.png"):
        assert repo.index.parents(ids[name]) == []
    # The records themselves name the parent (it was known at capture).
    assert repo.load_record(ids["upscaled.png"]).parent_ids == [ids["img2img.png"]]

    log = run_json(capsys, "-C", scenario.root, "log", "outputs/upscaled.png")
    assert [r["id"] for r in log] == [ids["upscaled.png"], ids["img2img.png"], ids["base.png"]]
    desc = run_json(capsys, "-C", scenario.root, "descendants", "outputs/base.png")
    assert [r["id"] for r in desc] == [ids["base.png"], ids["img2img.png"], ids["upscaled.png"]]

    code, out, _ = run(capsys, "-C", scenario.root, "log", "outputs/upscaled.png", "--graph")
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[1] for line in lines] == [ids[n][:12] for n in (
        "upscaled.png", "img2img.png", "base.png")]
    assert "upscaled.png (comfyui, full)" in lines[0]
    assert "img2img.png (comfyui, seed 2000, full)" in lines[1]


def test_a_parent_captured_later_links_its_existing_children(
        scenario: Scenario, capsys: pytest.CaptureFixture[str]) -> None:
    root = scenario.root
    up = run_json(capsys, "-C", root, "add", scenario.upscaled, "--no-env")["records"][0]["id"]
    i2i = run_json(capsys, "-C", root, "add", scenario.img2img, "--no-env")["records"][0]["id"]
    base = run_json(capsys, "-C", root, "add", scenario.base, "--no-env")["records"][0]["id"]
    repo = Repository.discover(root)
    assert repo.load_record(up).parent_ids == [] and repo.load_record(i2i).parent_ids == []
    assert repo.index.ancestors(up) == [i2i, base]
    # The edges live in the index only: a rebuild, whatever its order, derives them again.
    assert run(capsys, "-C", root, "fsck", "--rebuild-index")[0] == 0
    repo = Repository.discover(root)
    assert repo.index.ancestors(up) == [i2i, base]
    (root / ".repro" / "index.sqlite").unlink()
    for suffix in ("-wal", "-shm"):
        (root / ".repro" / f"index.sqlite{suffix}").unlink(missing_ok=True)
    assert [r["id"] for r in run_json(capsys, "-C", root, "log", up)] == [up, i2i, base]


def test_uses_exact_version_and_any_version(
        scenario: Scenario, capsys: pytest.CaptureFixture[str]) -> None:
    ids = ids_by_name(capsys, scenario)
    lora_users = {ids[n] for n in ("base.png", "img2img.png", "strength.png", "seed_a.png",
                                   "seed_b.png")}
    by_path = run_json(capsys, "-C", scenario.root, "uses", "models/loras/style.safetensors")
    assert {r["id"] for r in by_path} == lora_users
    by_name = run_json(capsys, "-C", scenario.root, "uses", LORA)
    assert {r["id"] for r in by_name} == lora_users
    # The list (read from the index alone) says what the records say, in order.
    code, out, _ = run(capsys, "-C", scenario.root, "uses", LORA)
    assert code == 0 and out.splitlines() == [
        f"{r['id'][:12]} {r['output']['path']} ({r['tool']['name']}, "
        f"{r['reproducibility']['level']})" for r in by_name]
    blake3 = Repository.discover(scenario.root).load_record(ids["base.png"]).models[1].blake3
    by_prefix = run_json(capsys, "-C", scenario.root, "uses", blake3[:10])
    assert {r["id"] for r in by_prefix} == lora_users
    upscaler = run_json(capsys, "-C", scenario.root, "uses", "4x_ultra.safetensors")
    assert [r["id"] for r in upscaler] == [ids["upscaled.png"]]

    # The LoRA is updated under the same name; one more image is made with it.
    write_safetensors(scenario.lora, model_bytes(99, 40_000))
    newer = generate(scenario.root, "newer.png", comfy_graph(
        ckpt=CKPT, lora=LORA, lora_strength=0.8, seed=7, prompt=PROMPT), 7)
    new_id = run_json(capsys, "-C", scenario.root, "add", newer, "--no-env")["records"][0]["id"]
    exact = run_json(capsys, "-C", scenario.root, "uses", "models/loras/style.safetensors")
    assert [r["id"] for r in exact] == [new_id]
    groups = run_json(capsys, "-C", scenario.root, "uses", LORA, "--any-version")
    assert [len(g["records"]) for g in groups] == [5, 1]
    assert {r["id"] for r in groups[0]["records"]} == lora_users
    assert groups[1]["records"][0]["id"] == new_id
    assert groups[0]["blake3"] == blake3 and groups[1]["blake3"] != blake3
    assert all("models/loras/style.safetensors" in g["names"] for g in groups)
    code, out, _ = run(capsys, "-C", scenario.root, "uses", LORA, "--any-version")
    assert code == 0 and out.count("version ") == 2 and "5 output(s)" in out


def test_variations_groups_by_the_one_parameter(
        scenario: Scenario, capsys: pytest.CaptureFixture[str]) -> None:
    ids = ids_by_name(capsys, scenario)
    result = run_json(capsys, "-C", scenario.root, "variations", "outputs/base.png")
    groups = {g["parameter"]: g for g in result["groups"]}
    assert set(groups) == {"seed", "strength lora style.safetensors"}
    assert {m["id"] for m in groups["seed"]["records"]} == {ids["seed_a.png"], ids["seed_b.png"]}
    assert [m["value"] for m in groups["seed"]["records"]] == [1001, 1002]
    assert groups["seed"]["value"] == 1000
    strength = groups["strength lora style.safetensors"]
    assert [m["id"] for m in strength["records"]] == [ids["strength.png"]]
    assert strength["records"][0]["value"] == [0.5, 0.5]
    # img2img differs in denoise, the input and the latent: not one parameter away.
    assert ids["img2img.png"] not in {m["id"] for g in result["groups"] for m in g["records"]}
    # From a seed variant, the strength variant is two parameters away.
    other = run_json(capsys, "-C", scenario.root, "variations", "outputs/seed_a.png")
    assert [g["parameter"] for g in other["groups"]] == ["seed"]
    code, out, _ = run(capsys, "-C", scenario.root, "variations", "outputs/base.png")
    assert code == 0 and "style.safetensors strength" in out and "seed_b.png: 1002" in out


def test_diff_explains_strength_seed_and_nodes(
        scenario: Scenario, capsys: pytest.CaptureFixture[str]) -> None:
    ids_by_name(capsys, scenario)
    d = run_json(capsys, "-C", scenario.root, "diff", "outputs/base.png", "outputs/strength.png")
    assert d["params"] == {"changed": {}, "added": {}, "removed": {}}
    assert d["models"]["strength"] == [
        {"role": "lora", "name": LORA, "field": "strength", "a": 0.8, "b": 0.5},
        {"role": "lora", "name": LORA, "field": "strength_clip", "a": 0.8, "b": 0.5}]
    assert d["graph"]["changed"] == [{"node": "10", "class_type": "LoraLoader", "inputs": {
        "strength_clip": [0.8, 0.5], "strength_model": [0.8, 0.5]}}]
    seed = run_json(capsys, "-C", scenario.root, "diff", "outputs/base.png", "outputs/seed_a.png")
    assert seed["params"]["changed"] == {"seed": [1000, 1001]}
    assert seed["graph"]["changed"][0]["inputs"] == {"seed": [1000, 1001]}
    i2i = run_json(capsys, "-C", scenario.root, "diff", "outputs/base.png", "outputs/img2img.png")
    assert {n["class_type"] for n in i2i["graph"]["added"]} == {"LoadImage", "VAEEncode"}
    assert i2i["graph"]["removed"] == [{"node": "5", "class_type": "EmptyLatentImage"}]
    assert i2i["inputs"]["added"][0]["name"] == "base.png"
    code, out, _ = run(capsys, "-C", scenario.root, "diff", "outputs/base.png",
                       "outputs/img2img.png")
    assert code == 0
    assert "node 11 (LoadImage) added in b" in out
    assert "denoise changed from 1.0 to 0.6" in out


def test_graph_json_has_parent_and_model_edges(
        scenario: Scenario, capsys: pytest.CaptureFixture[str]) -> None:
    ids = ids_by_name(capsys, scenario)
    doc = run_json(capsys, "-C", scenario.root, "graph", "outputs/img2img.png",
                   "--format", "json")
    outputs = {n["id"] for n in doc["nodes"] if n["kind"] == "output"}
    assert outputs == {ids["base.png"], ids["img2img.png"], ids["upscaled.png"]}
    parent_edges = {(e["source"], e["target"]) for e in doc["edges"] if e["kind"] != "model"}
    assert parent_edges == {(ids["base.png"], ids["img2img.png"]),
                            (ids["img2img.png"], ids["upscaled.png"])}
    models = {n["label"]: n for n in doc["nodes"] if n["kind"] == "model"}
    assert set(models) == {CKPT, LORA, "4x_ultra.safetensors"}
    model_edges = {(e["source"], e["target"]) for e in doc["edges"] if e["kind"] == "model"}
    assert (models["4x_ultra.safetensors"]["id"], ids["upscaled.png"]) in model_edges
    code, dot, _ = run(capsys, "-C", scenario.root, "graph", "outputs/img2img.png")
    assert code == 0 and dot.startswith("digraph lineage {")
    assert f'"{ids["base.png"]}" -> "{ids["img2img.png"]}"' in dot
    code, graphml, _ = run(capsys, "-C", scenario.root, "graph", "--format", "graphml")
    assert code == 0 and graphml.count("<node ") == 6 + 3 and "<edge " in graphml


def test_uses_by_a_recorded_hash(scenario: Scenario, capsys: pytest.CaptureFixture[str]) -> None:
    import hashlib

    from repro.demo import a1111_parameters, write_a1111_png

    ckpt = scenario.root / "models" / "checkpoints" / CKPT
    sha256 = hashlib.sha256(ckpt.read_bytes()).hexdigest()
    text = a1111_parameters(prompt="a fox", negative="text", seed=5, model="base",
                            model_hash=sha256[:10])
    a1111 = write_a1111_png(scenario.root / "outputs" / "a1111" / "00001-5.png", text,
                            pixel_seed=5)
    ids = ids_by_name(capsys, scenario)
    assert ids["00001-5.png"]
    comfy = {ids[n] for n in ("base.png", "img2img.png", "strength.png", "seed_a.png",
                              "seed_b.png")}
    for given in (sha256[:10], sha256, sha256[:16]):
        found = run_json(capsys, "-C", scenario.root, "uses", given)
        assert {r["id"] for r in found} == comfy | {ids[a1111.name]}, given
    code, _, err = run(capsys, "-C", scenario.root, "uses", "abcdef1234")
    assert code != 0 and "no known model version" in err
