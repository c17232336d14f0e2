"""The diff that explains: weighted prompt words, models, ComfyUI nodes, --now."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from repro.demo import model_bytes, write_safetensors
from repro.lineage.diff import diff_graphs, diff_models, diff_words, weighted_terms
from tests.helpers import run, run_json
from tests.lineage.scenario import build


def test_weighted_terms_follow_a1111_attention() -> None:
    terms = weighted_terms(r"portrait, (warm light:1.2), ((sharp)), [blur], "
                           r"<lora:client_style:0.8>, \(literal\), (a (b:1.5):2)")
    assert terms == [("portrait", 1.0), ("warm", 1.2), ("light", 1.2), ("sharp", 1.21),
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
    assert "node 6 (CLIPTextEncode): text" in out


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
