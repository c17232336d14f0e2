"""The diff that explains: weighted prompt words, models, ComfyUI nodes, --now."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from repro.demo import model_bytes, write_safetensors
from repro.lineage.diff import (
    diff_graphs,
    diff_models,
    diff_records,
    diff_words,
    weighted_terms,
)
from tests.helpers import run, run_json
from tests.lineage.scenario import build


def test_weighted_terms_follow_a1111_attention() -> None:
    terms = weighted_terms(r"portrait, (warm light:1.2), ((sharp)), [blur], "
                           r"<lora:client_style:0.8>, \(literal\), (a (b:1.5):2)")
    assert terms == [("portrait", 1.0), ("warm light", 1.2), ("sharp", 1.21),
                     ("blur", 0.9091), ("<lora:client_style>", 0.8), ("(literal)", 1.0),
                     ("a", 2.0), ("b", 3.0)]


def test_weight_change_reads_as_a_weight_change() -> None:
    d = diff_words("a keeper, (warm light:1.2), <lora:style:0.8>",
                   "a keeper, (warm light:1.35), <lora:style:0.6>, storm")
    assert d == {"added": ["storm"], "removed": [],
                 "reweighted": [{"term": "warm light", "a": 1.2, "b": 1.35},
                                {"term": "<lora:style>", "a": 0.8, "b": 0.6}]}
    assert diff_words("(red:1.1)", "(red)")["reweighted"] == []  # same weight, other spelling
    gone = diff_words("cat, (hat:1.3), <lora:x:0.5>", "cat")
    assert gone == {"added": [], "removed": ["(hat:1.3)", "<lora:x:0.5>"], "reweighted": []}


@given(st.text(alphabet="ab ,():.1234[]<>lor\\", max_size=60))
def test_prompt_parser_never_fails_and_a_prompt_equals_itself(text: str) -> None:
    terms = weighted_terms(text)
    assert all(isinstance(t, str) and t for t, _ in terms)
    assert diff_words(text, text) == {"added": [], "removed": [], "reweighted": []}


def test_models_version_rename_strength_added_removed() -> None:
    a = [{"role": "checkpoint", "name": "dream.safetensors", "blake3": "1" * 64},
         {"role": "lora", "name": "style.safetensors", "blake3": "2" * 64, "strength": 0.8},
         {"role": "vae", "name": "vae.safetensors", "blake3": "3" * 64}]
    b = [{"role": "checkpoint", "name": "dream.safetensors", "blake3": "9" * 64},
         {"role": "lora", "name": "style_v1.safetensors", "blake3": "2" * 64, "strength": 0.8},
         {"role": "controlnet", "name": "depth.safetensors", "blake3": "4" * 64}]
    d = diff_models(a, b)
    assert d["changed"] == [{"role": "checkpoint", "name": "dream.safetensors",
                             "a": "1" * 64, "b": "9" * 64}]
    assert d["renamed"] == [{"role": "lora", "blake3": "2" * 64, "a": "style.safetensors",
                             "b": "style_v1.safetensors"}]
    assert [m["name"] for m in d["added"]] == ["depth.safetensors"]
    assert [m["name"] for m in d["removed"]] == ["vae.safetensors"]


def test_graph_diff_by_node() -> None:
    a = {"3": {"class_type": "KSampler", "inputs": {"seed": 1, "model": ["4", 0]}},
         "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "a"}},
         "5": {"class_type": "EmptyLatentImage", "inputs": {}}}
    b = {"3": {"class_type": "KSamplerAdvanced", "inputs": {"noise_seed": 1,
                                                            "model": ["10", 0]}},
         "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "a"}},
         "10": {"class_type": "LoraLoader", "inputs": {"model": ["4", 0]}}}
    d = diff_graphs(a, b)
    assert d == {
        "added": [{"node": "10", "class_type": "LoraLoader"}],
        "removed": [{"node": "5", "class_type": "EmptyLatentImage"}],
        "changed": [{"node": "3", "class_type": "KSamplerAdvanced", "inputs": {
            "class_type": ["KSampler", "KSamplerAdvanced"], "model": [["4", 0], ["10", 0]],
            "noise_seed": [None, 1], "seed": [1, None]}}]}
    assert diff_graphs(a, None) is None


def test_diff_sentences_and_weights_end_to_end(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from repro.demo import comfy_graph
    from tests.lineage.scenario import CKPT, LORA, generate

    build(tmp_path)
    warmer = generate(tmp_path, "warmer.png", comfy_graph(
        ckpt=CKPT, lora=LORA, lora_strength=0.8, seed=1000,
        prompt="a lighthouse keeper, oil painting, (warm light:1.4), storm"), 21)
    assert run(capsys, "-C", tmp_path, "init")[0] == 0
    run_json(capsys, "-C", tmp_path, "add", "outputs", "--no-env")
    d = run_json(capsys, "-C", tmp_path, "diff", "outputs/base.png", warmer)
    assert d["prompt"] == {"added": ["storm"], "removed": [],
                           "reweighted": [{"term": "warm light", "a": 1.2, "b": 1.4}]}
    assert d["params"]["changed"] == {}
    code, out, _ = run(capsys, "-C", tmp_path, "diff", "outputs/base.png", warmer)
    assert code == 0
    assert "prompt: the weight of 'warm light' changed from 1.2 to 1.4" in out
    assert "prompt: added 'storm'" in out
    # The node's text is the prompt, shown word by word above: not again as a node change.
    assert "node 6 (CLIPTextEncode)" not in out
    assert d["graph"]["changed"][0]["inputs"]["text"]  # the JSON keeps the whole graph diff


def test_diff_now_names_the_models_that_changed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sc = build(tmp_path)
    assert run(capsys, "-C", tmp_path, "init")[0] == 0
    run_json(capsys, "-C", tmp_path, "add", "outputs", "--no-env")
    same = run_json(capsys, "-C", tmp_path, "diff", "outputs/base.png", "--now")
    assert same["changed"] == [] and {m["status"] for m in same["models"]} == {"ok"}
    write_safetensors(sc.lora, model_bytes(77, 40_000))
    now = run_json(capsys, "-C", tmp_path, "diff", "outputs/base.png", "--now")
    assert [(m["role"], m["status"]) for m in now["changed"]] == [("lora", "changed")]
    code, out, _ = run(capsys, "-C", tmp_path, "diff", "outputs/base.png", "--now")
    assert code == 0 and "lora style.safetensors" in out and "different version" in out
    code, _, err = run(capsys, "-C", tmp_path, "diff", "outputs/base.png")
    assert code != 0 and "--now" in err


def test_a_weighted_group_is_one_term() -> None:
    assert weighted_terms("(golden hour:1.3), (red hair, blue eyes:1.2)") == [
        ("golden hour", 1.3), ("red", 1.2), ("hair", 1.2), ("blue", 1.2), ("eyes", 1.2)]
    assert diff_words("a cat", "a cat, (golden hour:1.3)")["added"] == ["(golden hour:1.3)"]


def test_what_one_section_shows_is_not_repeated_in_another() -> None:
    """A1111 extras for the models and tool, a LoRA weight in the prompt when the models
    show its strength, graph inputs already shown, long node text as its changed words."""
    long_a = "a very long description of a lighthouse keeper at dusk, oil painting, warm"
    long_b = long_a.replace("dusk", "dawn")

    def record(seed: int, weight: float, model_hash: str, text: str) -> dict[str, Any]:
        return {"params": {"seed": seed, "prompt": f"a fox <lora:style:{weight}>",
                           "extra": {"Model hash": model_hash, "Version": "v1", "ENSD": 31337,
                                     "Denoising strength": seed / 10}},
                "models": [{"role": "lora", "name": "style", "blake3": "b" * 64,
                            "strength": weight}],
                "graph": {"3": {"class_type": "KSampler", "inputs": {"seed": seed}},
                          "7": {"class_type": "Note", "inputs": {"text": text}}}}

    a, b = record(1, 0.8, "aaaa", long_a), record(2, 0.6, "bbbb", long_b)
    d = diff_records(a, b, a_id="a", b_id="b", graph=diff_graphs(a["graph"], b["graph"]))
    assert set(d.params["changed"]) == {"seed", "extra.Denoising strength"}
    assert d.prompt["reweighted"] == []  # the models' strength says it
    assert d.models["strength"] == [{"role": "lora", "name": "style", "field": "strength",
                                     "a": 0.8, "b": 0.6}]
    assert d.graph_brief is not None
    [note] = d.graph_brief["changed"]  # the seed node is shown as the seed
    assert note["inputs"] == {"text": {"words": {"added": ["dawn"], "removed": ["dusk"],
                                                 "reweighted": []}}}
    assert "graph_brief" not in d.to_dict()


def test_diff_says_a_lora_strength_once(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from repro.demo import comfy_graph
    from tests.lineage.scenario import CKPT, LORA, generate

    build(tmp_path)
    other = generate(tmp_path, "weaker.png", comfy_graph(
        ckpt=CKPT, lora=LORA, lora_strength=0.5, seed=1000,
        prompt="a lighthouse keeper, oil painting, (warm light:1.2)"), 21)
    assert run(capsys, "-C", tmp_path, "init")[0] == 0
    run_json(capsys, "-C", tmp_path, "add", "outputs", "--no-env")
    code, out, _ = run(capsys, "-C", tmp_path, "diff", "outputs/base.png", other)
    assert code == 0
    assert out.count("0.5") == 1 and "(model and clip)" in out, out
    assert "LoraLoader" not in out
