"""The ComfyUI reader: prompt graphs built here, the corpus, real server fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from repro.capture.comfyui import parse_comfyui, parse_prompt_graph
from repro.capture.comfyui_workflow import WORKFLOW_ONLY_REASON
from repro.capture.types import Generation
from repro.errors import InputError, LimitExceeded, ReproError
from tests.capture.test_corpus import ROWS

# --- builders -------------------------------------------------------------------------


def node(class_type: str, **inputs: Any) -> dict[str, Any]:
    return {"class_type": class_type, "inputs": inputs}


def link(source: int | str, slot: int = 0) -> list[Any]:
    return [str(source), slot]


def txt2img(**sampler: Any) -> dict[str, Any]:
    """The default ComfyUI graph; keyword arguments override KSampler inputs."""
    inputs = {"seed": 42, "steps": 20, "cfg": 7.5, "sampler_name": "euler",
              "scheduler": "normal", "denoise": 1.0, "model": link(4), "positive": link(6),
              "negative": link(7), "latent_image": link(5)}
    inputs.update(sampler)
    return {
        "3": node("KSampler", **inputs),
        "4": node("CheckpointLoaderSimple", ckpt_name="sd15/dreamshaper_8.safetensors"),
        "5": node("EmptyLatentImage", width=512, height=768, batch_size=2),
        "6": node("CLIPTextEncode", text="a red fox", clip=link(4, 1)),
        "7": node("CLIPTextEncode", text="blurry", clip=link(4, 1)),
        "8": node("VAEDecode", samples=link(3), vae=link(4, 2)),
        "9": node("SaveImage", filename_prefix="ComfyUI", images=link(8)),
    }


def wf_node(node_id: int, node_type: str, widgets: list[Any] | None = None, mode: int = 0,
            **properties: Any) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "pos": [0, 0], "size": [100, 100], "flags": {},
            "order": 0, "mode": mode, "inputs": [], "outputs": [], "properties": properties,
            "widgets_values": widgets if widgets is not None else []}


def workflow_v04(nodes: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"last_node_id": 99, "last_link_id": 1, "nodes": nodes,
            "links": [[1, 4, 0, 3, 0, "MODEL"]], "groups": [], "config": {}, "extra": {},
            "version": 0.4, **extra}


def workflow_v1(nodes: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"version": 1, "state": {"lastGroupId": 0, "lastNodeId": 99, "lastLinkId": 1,
                                    "lastRerouteId": 0},
            "nodes": nodes,
            "links": [{"id": 1, "origin_id": 4, "origin_slot": 0, "target_id": 3,
                       "target_slot": 0, "type": "MODEL"}],
            "reroutes": [], "extra": {}, **extra}


def used(graph: dict[str, Any], *node_ids: str) -> dict[str, Any]:
    """The graph with a saver consuming each of ``node_ids``: ComfyUI executes only what
    output nodes need, so a node nothing consumes is not part of any output."""
    for node_id in node_ids:
        graph[f"9{node_id}"] = node("SaveAnything", source=link(int(node_id)))
    return graph


def model_names(gen: Generation, role: str | None = None) -> list[str | None]:
    return [m.name for m in gen.models if role is None or m.role == role]


# --- the basic graph ------------------------------------------------------------------


def test_txt2img_params_models_and_level() -> None:
    gen = parse_prompt_graph(txt2img())
    assert gen.tool == "comfyui" and gen.metadata == "execution"
    assert gen.level == "full" and gen.reasons == []
    assert gen.params == {
        "prompt": "a red fox", "negative_prompt": "blurry", "seed": 42, "steps": 20,
        "cfg": 7.5, "sampler": "euler", "scheduler": "normal", "width": 512, "height": 768,
        "batch_size": 2, "denoise": 1.0,
        "samplers": [{"node": "3", "class_type": "KSampler", "seed": 42, "steps": 20,
                      "cfg": 7.5, "sampler": "euler", "scheduler": "normal", "denoise": 1.0}],
        # Every other literal input of the executed nodes, by node and input.
        "5.width": 512, "5.height": 768, "5.batch_size": 2, "9.filename_prefix": "ComfyUI",
    }
    [model] = gen.models
    assert (model.role, model.name, model.folder, model.node) == (
        "checkpoint", "sd15/dreamshaper_8.safetensors", "checkpoints", "4")
    assert gen.blobs == {} and gen.tool_version is None


def test_clip_skip_is_a_positive_count() -> None:
    graph = txt2img()
    graph["10"] = node("CLIPSetLastLayer", stop_at_clip_layer=-2, clip=link(4, 1))
    graph["6"]["inputs"]["clip"] = link(10)
    assert parse_prompt_graph(graph).params["clip_skip"] == 2


def test_sdxl_encoder_texts_joined_only_within_one_node() -> None:
    graph = txt2img()
    graph["6"] = node("CLIPTextEncodeSDXL", text_g="a castle", text_l="oil painting",
                      width=1024, height=1024, clip=link(4, 1))
    graph["7"] = node("CLIPTextEncodeSDXL", text_g="ugly", text_l="ugly", clip=link(4, 1))
    gen = parse_prompt_graph(graph)
    assert gen.params["prompt"] == "a castle\noil painting"
    assert gen.params["negative_prompt"] == "ugly"


def test_combined_conditioning_keeps_the_first_text_and_says_so() -> None:
    graph = txt2img()
    graph["11"] = node("CLIPTextEncode", text="snowy mountains", clip=link(4, 1))
    graph["12"] = node("ConditioningCombine", conditioning_1=link(6), conditioning_2=link(11))
    graph["3"]["inputs"]["positive"] = link(12)
    gen = parse_prompt_graph(graph)
    assert gen.params["prompt"] == "a red fox"
    assert any("combines 2 text encoders" in w for w in gen.warnings)


def test_img2img_has_no_invented_size() -> None:
    graph = txt2img(denoise=0.6, latent_image=link(13))
    del graph["5"]
    graph["12"] = node("LoadImage", image="photo.png", upload="image")
    graph["13"] = node("VAEEncode", pixels=link(12), vae=link(4, 2))
    gen = parse_prompt_graph(graph)
    assert "width" not in gen.params and "height" not in gen.params
    assert gen.params["denoise"] == 0.6
    assert [(i.role, i.name) for i in gen.inputs] == [("image", "photo.png")]


# --- links to literal values ----------------------------------------------------------


@pytest.mark.parametrize("seed_node", [
    node("PrimitiveInt", value=123456789),
    node("Seed (rgthree)", seed=123456789),
    node("CR Seed", seed=123456789),
    node("Int Literal", int=123456789),
    node("JustANumber", anything=123456789),
])
def test_seed_through_a_primitive_node(seed_node: dict[str, Any]) -> None:
    graph = txt2img(seed=link(20), steps=link(21))
    graph["20"] = seed_node
    graph["21"] = node("PrimitiveInt", value=31)
    gen = parse_prompt_graph(graph)
    assert gen.params["seed"] == 123456789
    assert gen.params["steps"] == 31
    assert gen.level == "full"


def test_text_through_a_string_node_and_a_pass_through() -> None:
    graph = txt2img()
    graph["20"] = node("PrimitiveStringMultiline", value="a blue heron")
    graph["21"] = node("Reroute (custom)", input=link(20))
    graph["6"]["inputs"]["text"] = link(21)
    assert parse_prompt_graph(graph).params["prompt"] == "a blue heron"


def test_seed_computed_at_run_time_is_partial() -> None:
    graph = txt2img(seed=link(20))
    graph["20"] = node("MathIntAdd", a=5, b=7)
    gen = parse_prompt_graph(graph)
    assert "seed" not in gen.params
    assert gen.level == "partial"
    assert any("node 3 KSampler: seed" in r and "node 20 (MathIntAdd)" in r
               for r in gen.reasons)


def test_seed_minus_one_is_partial() -> None:
    gen = parse_prompt_graph(txt2img(seed=-1))
    assert gen.params["seed"] == -1
    assert gen.level == "partial"
    assert any("seed is -1" in r for r in gen.reasons)


def test_missing_seed_and_dangling_link_are_partial() -> None:
    graph = txt2img(seed=link(77))
    gen = parse_prompt_graph(graph)
    assert gen.level == "partial"
    assert any("links to node 77" in r for r in gen.reasons)


# --- SamplerCustom and SamplerCustomAdvanced ------------------------------------------


def test_sampler_custom_reads_linked_sampler_and_sigmas() -> None:
    graph = txt2img()
    graph["3"] = node("SamplerCustom", add_noise=True, noise_seed=0, cfg=1.0, model=link(4),
                      positive=link(6), negative=link(7), sampler=link(14),
                      sigmas=link(22), latent_image=link(5))
    graph["14"] = node("KSamplerSelect", sampler_name="euler_ancestral")
    graph["22"] = node("BasicScheduler", scheduler="karras", steps=4, denoise=0.75,
                       model=link(4))
    gen = parse_prompt_graph(graph)
    assert gen.params["samplers"] == [{"node": "3", "class_type": "SamplerCustom", "seed": 0,
                                       "steps": 4, "cfg": 1.0, "sampler": "euler_ancestral",
                                       "scheduler": "karras", "denoise": 0.75}]
    assert gen.params["seed"] == 0 and gen.params["prompt"] == "a red fox"
    assert gen.level == "full"


def test_sampler_custom_advanced_with_cfg_guider() -> None:
    graph = txt2img()
    graph["3"] = node("SamplerCustomAdvanced", noise=link(25), guider=link(22),
                      sampler=link(16), sigmas=link(17), latent_image=link(5))
    graph["25"] = node("RandomNoise", noise_seed=link(30))
    graph["30"] = node("PrimitiveInt", value=2**60 + 3)
    graph["22"] = node("CFGGuider", cfg=3.5, model=link(4), positive=link(6), negative=link(7))
    graph["16"] = node("KSamplerSelect", sampler_name="dpmpp_2m")
    graph["17"] = node("SDTurboScheduler", steps=2, denoise=1.0, model=link(4))
    gen = parse_prompt_graph(graph)
    [stage] = gen.params["samplers"]
    assert stage == {"node": "3", "class_type": "SamplerCustomAdvanced", "seed": 2**60 + 3,
                     "steps": 2, "cfg": 3.5, "sampler": "dpmpp_2m", "scheduler": "sd_turbo",
                     "denoise": 1.0}
    assert gen.params["prompt"] == "a red fox"
    assert gen.params["negative_prompt"] == "blurry"
    assert gen.level == "full"


def test_sampler_custom_advanced_with_basic_guider_has_no_cfg() -> None:
    graph = txt2img()
    graph["3"] = node("SamplerCustomAdvanced", noise=link(25), guider=link(22),
                      sampler=link(16), sigmas=link(17), latent_image=link(5))
    graph["25"] = node("RandomNoise", noise_seed=77)
    graph["22"] = node("BasicGuider", model=link(4), conditioning=link(6))
    graph["16"] = node("SamplerEulerAncestral", eta=1.0, s_noise=1.0)
    graph["17"] = node("KarrasScheduler", steps=12, sigma_max=14.6, sigma_min=0.03, rho=7.0)
    gen = parse_prompt_graph(graph)
    [stage] = gen.params["samplers"]
    assert "cfg" not in stage and "cfg" not in gen.params
    assert stage["seed"] == 77 and stage["steps"] == 12
    assert stage["sampler"] == "euler_ancestral" and stage["scheduler"] == "karras"
    assert gen.params["prompt"] == "a red fox" and "negative_prompt" not in gen.params
    assert gen.level == "full"


def test_disable_noise_has_no_seed_and_no_complaint() -> None:
    graph = txt2img()
    graph["3"] = node("SamplerCustomAdvanced", noise=link(25), guider=link(22),
                      sampler=link(16), sigmas=link(17), latent_image=link(5))
    graph["25"] = node("DisableNoise")
    graph["22"] = node("DualCFGGuider", cfg_conds=5.0, cfg_cond2_negative=2.0, model=link(4),
                       cond1=link(6), cond2=link(6), negative=link(7))
    graph["16"] = node("KSamplerSelect", sampler_name="euler")
    graph["17"] = node("BasicScheduler", scheduler="simple", steps=8, denoise=1.0,
                       model=link(4))
    gen = parse_prompt_graph(graph)
    assert "seed" not in gen.params["samplers"][0]
    assert gen.params["prompt"] == "a red fox" and gen.params["negative_prompt"] == "blurry"
    assert gen.level == "full"


def test_detailer_nodes_are_sampling_stages() -> None:
    graph = txt2img()
    graph["40"] = node("FaceDetailer", image=link(8), model=link(4), seed=777, steps=10,
                       cfg=6.0, sampler_name="euler", scheduler="normal", denoise=0.4,
                       positive=link(6), negative=link(7))
    graph["9"]["inputs"]["images"] = link(40)
    gen = parse_prompt_graph(graph)
    assert [s["node"] for s in gen.params["samplers"]] == ["3", "40"]
    assert gen.params["seed"] == 777 and gen.params["denoise"] == 0.4


def test_without_an_output_node_the_last_stage_is_used_with_a_warning() -> None:
    graph = hires_fix()
    del graph["9"]
    gen = parse_prompt_graph(graph)
    assert gen.params["seed"] == 2222
    assert any("no output node is recognised" in w for w in gen.warnings)


def test_long_link_chains_are_cut_off() -> None:
    graph = txt2img(seed=link(1000))
    for i in range(1000, 21000):
        graph[str(i)] = node("Pass", x=link(i + 1))
    graph["21000"] = node("PrimitiveInt", value=5)
    gen = parse_prompt_graph(graph)
    assert "seed" not in gen.params and gen.level == "partial"
    assert any("follows more than" in r for r in gen.reasons)


# --- several stages -------------------------------------------------------------------


def hires_fix() -> dict[str, Any]:
    # The first stage has the *higher* node id: order must come from the links.
    graph = txt2img(seed=2222, denoise=0.5, latent_image=link(10), steps=12)
    graph["20"] = node("KSampler", seed=1111, steps=30, cfg=7.0, sampler_name="euler",
                       scheduler="normal", denoise=1.0, model=link(4), positive=link(6),
                       negative=link(7), latent_image=link(5))
    graph["10"] = node("LatentUpscale", upscale_method="nearest-exact", width=1024,
                       height=1536, crop="disabled", samples=link(20))
    return graph


def test_hires_fix_lists_stages_in_execution_order_and_mirrors_the_last() -> None:
    gen = parse_prompt_graph(hires_fix())
    assert [s["node"] for s in gen.params["samplers"]] == ["20", "3"]
    assert [s["seed"] for s in gen.params["samplers"]] == [1111, 2222]
    assert gen.params["seed"] == 2222 and gen.params["steps"] == 12
    assert gen.params["denoise"] == 0.5
    assert (gen.params["width"], gen.params["height"]) == (1024, 1536)


def test_first_saver_by_id_or_the_named_output_node_decides_the_top_stage() -> None:
    graph = hires_fix()
    graph["31"] = node("VAEDecode", samples=link(20), vae=link(4, 2))
    graph["2"] = node("SaveImage", filename_prefix="low", images=link(31))
    graph["1"] = node("PreviewImage", images=link(8))
    gen = parse_prompt_graph(graph)
    assert gen.params["seed"] == 1111  # SaveImage 2 beats SaveImage 9 and PreviewImage 1
    assert parse_prompt_graph(graph, output_node="9").params["seed"] == 2222


# --- exactness and hostile input ------------------------------------------------------


@pytest.mark.parametrize("seed", [2**64 - 1, 2**53 + 1, 2**63 + 12345])
def test_big_seeds_stay_exact_through_json_text(seed: int) -> None:
    text = json.dumps(txt2img(seed=seed))
    gen = parse_comfyui(text, None)
    assert type(gen.params["seed"]) is int and gen.params["seed"] == seed
    assert gen.params["samplers"][0]["seed"] == seed


def test_nan_input_is_dropped_with_a_warning() -> None:
    text = json.dumps(txt2img(cfg=float("nan")))
    assert "NaN" in text
    gen = parse_comfyui(text.encode(), None)
    assert "cfg" not in gen.params and "cfg" not in gen.params["samplers"][0]
    assert any("cfg is null" in w for w in gen.warnings)
    assert gen.params["seed"] == 42


def test_link_cycle_is_bounded_and_reported() -> None:
    graph = txt2img(seed=link(20), model=link(10))
    graph["20"] = node("SeedPassThrough", seed_in=link(21))
    graph["21"] = node("SeedPassThrough", seed_in=link(20))
    graph["10"] = node("LoraLoader", lora_name="a.safetensors", strength_model=1.0,
                       strength_clip=1.0, model=link(11), clip=link(4, 1))
    graph["11"] = node("ModelPatch", model=link(10))
    graph["12"] = node("SelfLoop", value=link(12))
    gen = parse_prompt_graph(graph)
    assert gen.level == "partial"
    assert any("link cycle" in w and "10" in w for w in gen.warnings)
    # The sampler depends on the cycle, so it is skipped rather than half-read.
    assert "samplers" not in gen.params


def test_seed_cycle_through_pass_through_nodes_does_not_hang() -> None:
    graph = txt2img()
    graph["20"] = node("A", x=link(21))
    graph["21"] = node("B", x=link(20))
    gen = parse_prompt_graph(graph)
    assert gen.params["seed"] == 42 and gen.level == "partial"


def test_too_many_nodes_is_refused() -> None:
    graph = {str(i): node("EmptyImage", width=8, height=8) for i in range(60_000)}
    with pytest.raises(LimitExceeded):
        parse_prompt_graph(graph)
    with pytest.raises(LimitExceeded):
        parse_comfyui(json.dumps(graph), None)


def test_not_json_objects_are_refused() -> None:
    for prompt in ("not json at all", "[1, 2, 3]", '"a string"', "{}"):
        with pytest.raises(InputError):
            parse_comfyui(prompt, None)
    with pytest.raises(InputError):
        parse_comfyui(None, None)
    with pytest.raises(InputError):
        parse_comfyui(None, '{"no": "nodes"}')


def test_bad_prompt_with_a_good_workflow_falls_back_to_the_workflow() -> None:
    flow = workflow_v04([wf_node(4, "CheckpointLoaderSimple", ["x.safetensors"])])
    gen = parse_comfyui("{broken", json.dumps(flow))
    assert gen.metadata == "workflow-only" and gen.level == "partial"
    assert "ComfyUI prompt" in gen.warnings[0]


def test_bad_workflow_with_a_good_prompt_is_a_warning() -> None:
    gen = parse_comfyui(json.dumps(txt2img()), "{broken")
    assert gen.metadata == "execution" and gen.level == "full"
    assert any("ComfyUI workflow" in w for w in gen.warnings)


graph_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["seed", "text", "model", "image", "0", "1"]), children,
                      max_size=4),
    max_leaves=12,
)
fuzz_nodes = st.fixed_dictionaries(
    {"class_type": st.sampled_from(["KSampler", "SamplerCustomAdvanced", "LoraLoader",
                                    "CLIPTextEncode", "SaveImage", "LoadImage", "X"])},
    optional={"inputs": st.dictionaries(
        st.sampled_from(["seed", "noise_seed", "text", "positive", "negative", "model",
                         "lora_name", "image", "noise", "sigmas", "latent_image", "clip"]),
        graph_values | st.tuples(st.sampled_from(["1", "2", "3"]),
                                 st.integers(0, 2)).map(list),
        max_size=6),
        "is_changed": graph_values},
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["1", "2", "3", "4:1"]), fuzz_nodes | graph_values,
                       max_size=4),
       st.none() | st.dictionaries(st.sampled_from(["nodes", "models", "extra", "definitions"]),
                                   graph_values, max_size=3))
def test_arbitrary_graphs_give_a_generation_or_a_repro_error(
        graph: dict[str, Any], flow: dict[str, Any] | None) -> None:
    try:
        gen = parse_prompt_graph(graph, flow)
    except ReproError:
        return
    assert gen.level in ("full", "partial")
    json.dumps(gen.to_dict())


# --- models ---------------------------------------------------------------------------


def test_custom_loaders_by_input_name_and_extension() -> None:
    graph = txt2img()
    graph["30"] = node("IPAdapterUnifiedLoaderCustom", ipadapter_name="ip-adapter_sd15.bin",
                       clip_vision_name="CLIP-ViT-H-14.safetensors", preset="STANDARD",
                       model=link(4))
    graph["31"] = node("SAMLoader", model_name="sam_vit_b_01ec64.pth", device_mode="AUTO")
    graph["32"] = node("MyLoraStacker", lora_name="detail.safetensors", lora_strength=0.6,
                       model=link(4))
    graph["33"] = node("AnimateDiffLoader", model_name="mm_sd_v15_v2.ckpt",
                       config_path="cfg/anim.yaml", beta_schedule="linear")
    graph["34"] = node("Efficient Loader", ckpt_name="base.safetensors", vae_name="Baked VAE",
                       lora_name="None")
    gen = parse_prompt_graph(used(graph, "30", "31", "32", "33", "34"))
    found = {(m.role, m.name) for m in gen.models}
    assert {("ip_adapter", "ip-adapter_sd15.bin"), ("clip_vision", "CLIP-ViT-H-14.safetensors"),
            ("other", "sam_vit_b_01ec64.pth"), ("lora", "detail.safetensors"),
            ("other", "mm_sd_v15_v2.ckpt"), ("config", "cfg/anim.yaml"),
            ("checkpoint", "base.safetensors")} <= found
    assert "Baked VAE" not in model_names(gen) and "None" not in model_names(gen)
    [lora] = [m for m in gen.models if m.name == "detail.safetensors"]
    assert lora.strength == 0.6 and lora.folder is None


def test_lora_stack_entries_are_models() -> None:
    graph = txt2img()
    graph["40"] = node("Power Lora Loader (rgthree)", model=link(4), clip=link(4, 1),
                       lora_1={"on": True, "lora": "a.safetensors", "strength": 0.8},
                       lora_2={"on": False, "lora": "off.safetensors", "strength": 1.0})
    gen = parse_prompt_graph(used(graph, "40"))
    assert model_names(gen, "lora") == ["a.safetensors"]


@pytest.mark.parametrize(("text", "expected"), [
    ("photo in the style of embedding:SDA768.pt girl", [("SDA768.pt", None)]),
    ("(embedding:easynegative:1.2), worst quality", [("easynegative", 1.2)]),
    ("embedding:bad_hands, ugly", [("bad_hands", None)]),
    ("Embedding:sub/dir/neg.safetensors:0.8 text", [("sub/dir/neg.safetensors", 0.8)]),
    ("embedding:a embedding:b.pt", [("a", None), ("b.pt", None)]),
    ("an embedding: is not a reference, nor is embeddings", []),
])
def test_embedding_syntax(text: str, expected: list[tuple[str, float | None]]) -> None:
    graph = txt2img()
    graph["7"]["inputs"]["text"] = text
    gen = parse_prompt_graph(graph)
    found = [(m.name, m.strength) for m in gen.models if m.role == "embedding"]
    assert found == expected
    assert all(m.folder == "embeddings" and m.node == "7"
               for m in gen.models if m.role == "embedding")


def test_zero_strength_lora_is_listed_with_a_warning() -> None:
    graph = txt2img(model=link(10))
    graph["10"] = node("LoraLoader", lora_name="off.safetensors", strength_model=0.0,
                       strength_clip=0, model=link(11), clip=link(4, 1))
    graph["11"] = node("LoraLoader", lora_name="half.safetensors", strength_model=0.0,
                       strength_clip=0.5, model=link(4), clip=link(4, 1))
    gen = parse_prompt_graph(graph)
    assert model_names(gen, "lora") == ["half.safetensors", "off.safetensors"]
    [off] = [m for m in gen.models if m.name == "off.safetensors"]
    assert (off.strength, off.strength_clip, off.folder) == (0.0, 0.0, "loras")
    warned = [w for w in gen.warnings if "does not apply" in w]
    assert len(warned) == 1 and "off.safetensors" in warned[0]


def test_known_loaders_roles_and_folders() -> None:
    graph = txt2img()
    graph["50"] = node("DualCLIPLoader", clip_name1="clip_l.safetensors",
                       clip_name2="t5xxl.safetensors", type="flux")
    graph["51"] = node("UNETLoader", unet_name="flux1-dev.safetensors", weight_dtype="default")
    graph["52"] = node("HypernetworkLoader", hypernetwork_name="marble.pt", strength=0.7,
                       model=link(4))
    graph["53"] = node("CheckpointLoader", config_name="v1-inference.yaml",
                       ckpt_name="old.ckpt")
    graph["54"] = node("VAELoader", vae_name="taesd")
    graph["55"] = node("UpscaleModelLoader", model_name="4x.pth")
    gen = parse_prompt_graph(used(graph, "50", "51", "52", "53", "54", "55"))
    rows = {(m.role, m.name, m.folder, m.node) for m in gen.models}
    assert {("text_encoder", "clip_l.safetensors", "text_encoders", "50"),
            ("text_encoder", "t5xxl.safetensors", "text_encoders", "50"),
            ("unet", "flux1-dev.safetensors", "diffusion_models", "51"),
            ("hypernetwork", "marble.pt", "hypernetworks", "52"),
            ("config", "v1-inference.yaml", "configs", "53"),
            ("checkpoint", "old.ckpt", "checkpoints", "53"),
            ("vae", "taesd", "vae", "54"),
            ("upscaler", "4x.pth", "upscale_models", "55")} <= rows
    [hyper] = [m for m in gen.models if m.role == "hypernetwork"]
    assert hyper.strength == 0.7


def test_same_model_in_two_nodes_is_kept_per_node() -> None:
    graph = txt2img()
    graph["60"] = node("CheckpointLoaderSimple", ckpt_name="sd15/dreamshaper_8.safetensors")
    gen = parse_prompt_graph(used(graph, "60"))
    assert [m.node for m in gen.models if m.role == "checkpoint"] == ["4", "60"]


def test_unresolvable_model_name_is_partial() -> None:
    graph = txt2img()
    graph["4"]["inputs"]["ckpt_name"] = link(70)
    graph["70"] = node("PickModel", index=3, folder="checkpoints")
    gen = parse_prompt_graph(graph)
    [model] = gen.models
    assert model.name is None and gen.level == "partial"
    assert any("checkpoint file name is computed at run time by node 70" in r
               for r in gen.reasons)


# --- what belongs to an output: the saving node's ancestors (issue 12 items 3, 14) ---------


def two_branches() -> dict[str, Any]:
    """Two savers, each with its own loader and input, and a loader nothing consumes."""
    return {
        "1": node("LoadImage", image="left.png", upload="image"),
        "2": node("UpscaleModelLoader", model_name="left.safetensors"),
        "3": node("ImageUpscaleWithModel", upscale_model=link(2), image=link(1)),
        "4": node("SaveImage", filename_prefix="left", images=link(3)),
        "11": node("LoadImage", image="right.png", upload="image"),
        "12": node("UpscaleModelLoader", model_name="right.safetensors"),
        "13": node("ImageUpscaleWithModel", upscale_model=link(12), image=link(11)),
        "14": node("SaveImage", filename_prefix="right", images=link(13)),
        "20": node("UpscaleModelLoader", model_name="missing.safetensors"),
    }


def test_models_and_inputs_come_from_the_saving_nodes_ancestors() -> None:
    left = parse_prompt_graph(two_branches(), output_node="4")
    assert model_names(left) == ["left.safetensors"]
    assert [i.name for i in left.inputs] == ["left.png"]
    assert left.params["4.filename_prefix"] == "left" and "14.filename_prefix" not in left.params
    right = parse_prompt_graph(two_branches(), output_node="14")
    assert model_names(right) == ["right.safetensors"] and right.level == "full"
    # Saver unknown (a file's own chunks): every output's ancestors, never the loader
    # nothing consumes (ComfyUI does not run it).
    either = parse_prompt_graph(two_branches())
    assert model_names(either) == ["left.safetensors", "right.safetensors"]


def test_every_input_of_the_ancestors_is_a_parameter() -> None:
    def job(seed: int) -> dict[str, Any]:
        return {
            "1": node("LoadImage", image="in.png", upload="image"),
            "2": node("ImageAddNoise", seed=seed, strength=0.5, image=link(1)),
            "3": node("UpscaleModelLoader", model_name="x2.safetensors"),
            "4": node("ImageUpscaleWithModel", upscale_model=link(3), image=link(2)),
            "5": node("SaveImage", filename_prefix="noisy", images=link(4)),
        }

    a, b = (parse_prompt_graph(job(seed), output_node="5").params for seed in (1, 2))
    assert a == {"seed": 1, "1.image": "in.png", "1.upload": "image", "2.seed": 1,
                 "2.strength": 0.5, "5.filename_prefix": "noisy"}
    assert {k for k in a if a[k] != b[k]} == {"seed", "2.seed"}


def test_usual_names_only_when_one_value_is_carried() -> None:
    graph = {
        "1": node("EmptyImage", width=64, height=64, batch_size=1, color=0),
        "2": node("ImageAddNoise", seed=3, strength=0.5, image=link(1)),
        "3": node("ImageAddNoise", seed=4, strength=0.5, image=link(2)),
        "4": node("SaveImage", filename_prefix="x", images=link(3)),
    }
    params = parse_prompt_graph(graph, output_node="4").params
    assert "seed" not in params and (params["2.seed"], params["3.seed"]) == (3, 4)
    assert (params["width"], params["height"]) == (64, 64)


# --- inputs ---------------------------------------------------------------------------


def test_load_image_is_changed_string_and_list() -> None:
    digest_a, digest_b = "ab" * 32, "CD" * 32
    graph = txt2img()
    graph["12"] = {**node("LoadImage", image="a.png", upload="image"), "is_changed": digest_a}
    graph["13"] = {**node("LoadImageMask", image="m.png", channel="alpha"),
                   "is_changed": [digest_b]}
    graph["14"] = node("LoadImageFromUrlOrPath", image="refs/pose.webp")
    graph["15"] = node("SomethingElse", image="not-an-image.txt")
    graph["16"] = {**node("LoadImage", image="c.png [output]"), "is_changed": ["nope"]}
    gen = parse_prompt_graph(used(graph, "12", "13", "14", "15", "16"))
    rows = [(i.role, i.name, i.node, i.hashes) for i in gen.inputs]
    assert rows == [("image", "a.png", "12", {"sha256": digest_a}),
                    ("mask", "m.png", "13", {"sha256": digest_b.lower()}),
                    ("image", "refs/pose.webp", "14", {}),
                    ("image", "c.png [output]", "16", {})]


# --- the workflow ---------------------------------------------------------------------


def test_control_after_generate_warning() -> None:
    flow = workflow_v04([
        wf_node(3, "KSampler", [43, "increment", 20, 7.5, "euler", "normal", 1]),
        wf_node(4, "CheckpointLoaderSimple", ["sd15/dreamshaper_8.safetensors"]),
    ])
    gen = parse_prompt_graph(txt2img(), flow)
    assert ("node 3 KSampler: the workflow shows seed 43 but the executed prompt used 42 "
            "(control_after_generate); the prompt's seed is the one that made this image"
            ) in gen.warnings
    assert gen.params["seed"] == 42 and gen.level == "full"


def test_no_seed_warning_when_widget_matches_or_class_is_unknown() -> None:
    graph = hires_fix()
    graph["20"]["class_type"] = "KSamplerAdvanced"
    graph["20"]["inputs"]["noise_seed"] = graph["20"]["inputs"].pop("seed")
    flow = workflow_v04([
        wf_node(3, "KSampler", [2222, True, 12, 7.5, "euler", "normal", 0.5]),
        wf_node(20, "KSamplerAdvanced", ["enable", 1111, "fixed", 30, 7, "euler", "normal"]),
        wf_node(4, "CheckpointLoaderSimple", [999, "x"]),
    ])
    gen = parse_prompt_graph(graph, flow)
    assert not any("control_after_generate" in w for w in gen.warnings)
    flow["nodes"][1]["widgets_values"][1] = 5
    gen = parse_prompt_graph(graph, flow)
    assert [w for w in gen.warnings if "control_after_generate" in w] == [
        "node 20 KSamplerAdvanced: the workflow shows seed 5 but the executed prompt used "
        "1111 (control_after_generate); the prompt's seed is the one that made this image"]


def test_muted_and_bypassed_nodes_are_warnings_not_models() -> None:
    flow = workflow_v04([
        wf_node(3, "KSampler", [42, "fixed", 20, 7.5, "euler", "normal", 1]),
        wf_node(27, "SaveImage", ["ComfyUI"], mode=2),
        wf_node(28, "LoraLoader", ["muted.safetensors", 1, 1], mode=4),
    ])
    gen = parse_prompt_graph(txt2img(), flow)
    assert "node 27 SaveImage is muted in the workflow and did not run; it is not part of " \
           "this image" in gen.warnings
    assert any(w.startswith("node 28 LoraLoader is bypassed") for w in gen.warnings)
    assert "muted.safetensors" not in model_names(gen)


def test_workflow_provenance_and_model_hashes() -> None:
    sha = "A" * 64
    flow = workflow_v04(
        [wf_node(4, "CheckpointLoaderSimple", ["sd15/dreamshaper_8.safetensors"],
                 cnr_id="comfy-core", ver="0.3.64",
                 models=[{"name": "dreamshaper_8.safetensors", "url": "https://x/d8",
                          "hash": sha, "hash_type": "SHA256", "directory": "checkpoints"}]),
         wf_node(6, "CLIPTextEncode", ["a red fox"], cnr_id="comfy-core", ver="0.3.64"),
         wf_node(40, "Power Lora Loader (rgthree)", [], cnr_id="rgthree-comfy",
                 ver="5d771b8b56a343c24a26e8cea1f0c87c3d58102f", aux_id="rgthree/rgthree-comfy"),
         wf_node(10, "LoraLoader", ["x.safetensors", 1, 1])],
        extra={"frontendVersion": "1.27.10"},
        models=[{"name": "blurry.safetensors", "url": "https://x/b", "hash": "0xBEEF",
                 "directory": "loras"}],
    )
    graph = txt2img()
    graph["10"] = node("LoraLoader", lora_name="blurry.safetensors", strength_model=1.0,
                       strength_clip=1.0, model=link(4), clip=link(4, 1))
    gen = parse_prompt_graph(used(graph, "10"), flow)
    prov = gen.provenance
    assert prov["frontend_version"] == "1.27.10"
    assert prov["nodes"] == [
        {"class_type": "CheckpointLoaderSimple", "cnr_id": "comfy-core", "ver": "0.3.64"},
        {"class_type": "CLIPTextEncode", "cnr_id": "comfy-core", "ver": "0.3.64"},
        {"class_type": "Power Lora Loader (rgthree)", "cnr_id": "rgthree-comfy",
         "ver": "5d771b8b56a343c24a26e8cea1f0c87c3d58102f", "aux_id": "rgthree/rgthree-comfy"},
    ]
    assert {m["name"] for m in prov["models"]} == {"dreamshaper_8.safetensors",
                                                   "blurry.safetensors"}
    ckpt = next(m for m in gen.models if m.role == "checkpoint")
    lora = next(m for m in gen.models if m.role == "lora")
    assert ckpt.hashes == {"sha256": "a" * 64}
    assert lora.hashes == {"sha256": "beef"}


def test_workflow_model_hash_that_is_not_hex_is_left_out() -> None:
    flow = workflow_v04([wf_node(4, "CheckpointLoaderSimple", ["dreamshaper_8.safetensors"],
                                 models=[{"name": "dreamshaper_8.safetensors", "hash": "see civitai",
                                          "directory": "checkpoints"}])])
    gen = parse_prompt_graph(txt2img(), flow)
    assert next(m for m in gen.models if m.role == "checkpoint").hashes == {}


@pytest.mark.parametrize("builder", [workflow_v04, workflow_v1])
def test_workflow_only_reads_models_and_rates_partial(builder: Any) -> None:
    sub_id = "9b1e0c4e-0000-4000-8000-000000000001"
    flow = builder(
        [wf_node(4, "CheckpointLoaderSimple", ["sdxl/juggernaut.safetensors"]),
         wf_node(5, "CheckpointLoader", ["v1-inference.yaml", "old.ckpt"]),
         wf_node(6, "DualCLIPLoader", ["clip_l.safetensors", "t5xxl.safetensors", "flux"]),
         wf_node(3, "KSampler", [7, "randomize", 20, 8, "euler", "normal", 1]),
         wf_node(8, "LoadImage", ["photo.png", "image"]),
         wf_node(9, "LoraLoader", ["muted.safetensors", 1, 1], mode=2),
         wf_node(11, sub_id, []),
         wf_node(12, "DownloadNode", [],
                 models=[{"name": "ae.safetensors", "url": "https://x/ae",
                          "hash": "ff" * 32, "hash_type": "sha256", "directory": "vae"}])],
        definitions={"subgraphs": [{"id": sub_id, "nodes": [
            wf_node(1, "LoraLoaderModelOnly", ["inner.safetensors", 0.5], cnr_id="comfy-core",
                    ver="0.3.60"),
            "not a node"]}]},
    )
    gen = parse_comfyui(None, json.dumps(flow))
    assert gen.metadata == "workflow-only" and gen.tool == "comfyui"
    assert gen.level == "partial" and gen.reasons == [WORKFLOW_ONLY_REASON]
    rows = {(m.role, m.name) for m in gen.models}
    assert rows == {("checkpoint", "sdxl/juggernaut.safetensors"), ("config", "v1-inference.yaml"),
                    ("checkpoint", "old.ckpt"), ("text_encoder", "clip_l.safetensors"),
                    ("text_encoder", "t5xxl.safetensors"), ("lora", "inner.safetensors"),
                    ("vae", "ae.safetensors")}
    vae = next(m for m in gen.models if m.role == "vae")
    assert vae.hashes == {"sha256": "ff" * 32} and vae.folder == "vae"
    assert [(i.role, i.name) for i in gen.inputs] == [("image", "photo.png")]
    assert gen.params == {"samplers": [{"node": "3", "class_type": "KSampler"}]}
    assert "seed" not in gen.params
    assert any("node 9 LoraLoader is muted" in w for w in gen.warnings)
    assert {"class_type": "LoraLoaderModelOnly", "cnr_id": "comfy-core",
            "ver": "0.3.60"} in gen.provenance["nodes"]


def test_workflow_with_garbage_parts_does_not_crash() -> None:
    flow = {"nodes": [None, 3, {"id": True, "type": "X"}, {"id": 1, "type": 5},
                      {"id": 2, "type": "KSampler", "widgets_values": {"seed": 1},
                       "properties": ["x"], "mode": "2"}],
            "links": "nope", "models": [{"name": 3}, "x"], "extra": [],
            "definitions": {"subgraphs": [None, {"nodes": "x"}]}}
    gen = parse_comfyui(None, json.dumps(flow))
    assert gen.level == "partial" and gen.models == []


def test_workflow_node_limit() -> None:
    flow = workflow_v04([wf_node(i, "Note") for i in range(50_001)])
    with pytest.raises(LimitExceeded):
        parse_comfyui(None, json.dumps(flow))


# --- server history (real ComfyUI 0.3.64 responses) -----------------------------------


def read_comfy_texts(path: Path) -> dict[str, str]:
    """prompt/workflow texts from a PNG's text chunks or a WebP's EXIF (IFD0 0x0110/0x010F)."""
    with Image.open(path) as im:
        if path.suffix.lower() != ".webp":
            return {k: v for k, v in im.text.items() if k in ("prompt", "workflow")}
        exif = im.getexif()
    texts = {}
    for tag in (0x010E, 0x010F, 0x0110):
        value = exif.get(tag)
        if isinstance(value, str) and ":" in value:
            key, _sep, rest = value.partition(":")
            if key.lower() in ("prompt", "workflow"):
                texts[key.lower()] = rest
    return texts


@pytest.mark.parametrize(("name", "model", "input_name"), [
    ("repro_upscale_00001_.png", "tiny_compact_x2.safetensors", "repro_input.png"),
    ("repro_webp_00001_.webp", "tiny_compact_x2.safetensors", "repro_input.png"),
    ("repro_chain_00001_.png", "tiny_compact_x2.safetensors", "repro_upscale_00001_.png"),
    ("repro_loadimage_00001_.png", None, "repro_input.png"),
    ("repro_empty_00001_.png", None, None),
])
def test_fixture_outputs(comfy_fixtures: Path, name: str, model: str | None,
                         input_name: str | None) -> None:
    texts = read_comfy_texts(comfy_fixtures / name)
    gen = parse_comfyui(texts.get("prompt"), texts.get("workflow"))
    assert gen.metadata == "execution" and gen.level == "full"
    assert [(m.role, m.name, m.folder) for m in gen.models] == (
        [("upscaler", model, "upscale_models")] if model else [])
    assert [i.name for i in gen.inputs] == ([input_name] if input_name else [])


# --- the corpus -----------------------------------------------------------------------


COMFY_ROWS = [r for r in ROWS if r.get("tool") == "comfyui" and r["file"].startswith("comfyui/")]
assert len(COMFY_ROWS) >= 13, f"the corpus has {len(COMFY_ROWS)} ComfyUI files"


@pytest.mark.parametrize("row", COMFY_ROWS, ids=lambda r: r["file"])
def test_corpus(corpus: Path, row: dict[str, Any]) -> None:
    texts = read_comfy_texts(corpus / row["file"])
    gen = parse_comfyui(texts.get("prompt"), texts.get("workflow"))
    assert gen.tool == row["tool"]
    assert gen.metadata == row["metadata"]
    assert gen.level == row["level_max"]
    for key, value in row.get("params", {}).items():
        assert gen.params.get(key) == value, key
        assert type(gen.params[key]) is type(value), key
    found = {(m.role, m.name) for m in gen.models}
    for model in row.get("models", []):
        assert (model["role"], model["name"]) in found
    inputs = {(i.role, i.name) for i in gen.inputs}
    for item in row.get("inputs", []):
        assert (item["role"], item["name"]) in inputs
    if "sampler_seeds" in row:
        seeds = sorted(s["seed"] for s in gen.params["samplers"])
        assert seeds == row["sampler_seeds"]


def test_node_ids_with_non_ascii_digits_sort_without_error() -> None:
    """str.isdigit() is true for '²', which int() refuses (found by the corpus fuzzer)."""
    from repro.capture.comfyui_nodes import node_id_key

    ids = ["10", "²", "9", "12:5", "3²"]
    assert sorted(ids, key=node_id_key) == ["9", "10", "12:5", "3²", "²"]


def test_the_headline_seed_is_the_one_that_drew_noise() -> None:
    """Base and refiner: the refiner's half adds no noise (its noise_seed 0 draws
    nothing), so the output's seed is the base stage's."""
    graph = txt2img()
    advanced = {"steps": 30, "cfg": 7.0, "sampler_name": "euler", "scheduler": "normal",
                "positive": link(6), "negative": link(7), "model": link(4)}
    graph["3"] = node("KSamplerAdvanced", add_noise="enable", noise_seed=123456789,
                      start_at_step=0, end_at_step=24, return_with_leftover_noise="enable",
                      latent_image=link(5), **advanced)
    graph["10"] = node("KSamplerAdvanced", add_noise="disable", noise_seed=0,
                       start_at_step=24, end_at_step=10000,
                       return_with_leftover_noise="disable", latent_image=link(3), **advanced)
    graph["8"] = node("VAEDecode", samples=link(10), vae=link(4, 2))
    gen = parse_prompt_graph(graph)
    assert gen.params["seed"] == 123456789
    assert [s["seed"] for s in gen.params["samplers"]] == [123456789, 0]
    assert gen.params["samplers"][1]["start"] == 24
