"""Issue 15: the formats a held-out set of real files found, on files written here
(tests/capture/formats.py) the way each writer does."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repro.capture import Generation, read_bytes
from repro.capture.a1111 import parse_a1111, split_infotext
from repro.capture.comfyui import parse_prompt_graph
from repro.errors import ReproError
from tests.capture import formats as f


def _one(gen: Generation, role: str, name: str | None = None) -> Any:
    found = [m for m in gen.models if m.role == role and (name is None or m.name == name)]
    assert len(found) == 1, [m.to_dict() for m in gen.models]
    return found[0]


def _no_false_reasons(gen: Generation) -> None:
    assert not any("no checkpoint" in r for r in gen.reasons), gen.reasons
    assert not any("no generation metadata" in r for r in gen.reasons), gen.reasons


def _assert_fox(gen: Generation, container: str = "exif") -> None:
    assert gen.format == f"comfyui-{container}" and gen.tool == "comfyui"
    assert gen.metadata == "execution" and gen.level == "full", gen.reasons
    p = gen.params
    assert (p["prompt"], p["negative_prompt"]) == ("a red fox in snow", "blurry")
    assert (p["seed"], p["steps"], p["cfg"], p["sampler"]) == (851616030078638, 25, 6.5,
                                                               "dpmpp_2m")
    assert (p["width"], p["height"]) == (1024, 768)
    assert _one(gen, "checkpoint").name == "sd_xl_base_1.0.safetensors"
    assert _one(gen, "lora").strength == 0.8
    _no_false_reasons(gen)


# --- 1. a ComfyUI graph in EXIF UserComment ------------------------------------------------

def test_civitai_jpeg_whole_api_graph_in_usercomment() -> None:
    gen = read_bytes(f.comfy_civitai_jpeg(f.comfy_graph()))
    _assert_fox(gen)
    assert "extra" not in gen.params and "3.extra" not in gen.params


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_prompt_workflow_wrapper_in_ifd0_usercomment(fmt: str) -> None:
    data = f.comfy_wrapper(fmt, f.comfy_graph())
    assert b"\x92\x86" in data or b"\x86\x92" in data  # the tag is really there
    gen = read_bytes(data)
    _assert_fox(gen)
    assert gen.formats == ["comfyui-exif"]


def test_wrapper_with_graphs_as_json_text() -> None:
    graph = f.comfy_graph()
    wrapper = {"prompt": json.dumps(graph), "workflow": json.dumps(f.ui_workflow(graph))}
    gen = read_bytes(f.exif_image("WEBP", ifd0={f.USER_COMMENT: json.dumps(wrapper)}))
    _assert_fox(gen)


def test_workflow_only_wrapper_is_workflow_only() -> None:
    wrapper = {"workflow": f.ui_workflow(f.comfy_graph())}
    gen = read_bytes(f.exif_image("JPEG", sub={f.USER_COMMENT: f.unicode_comment(
        json.dumps(wrapper))}))
    assert gen.metadata == "workflow-only" and gen.level != "full"


@pytest.mark.parametrize("prefixed", [False, True])
def test_bare_and_spaced_prefix_graphs_in_make_and_description(prefixed: bool) -> None:
    gen = read_bytes(f.comfy_bare_tags("JPEG", f.comfy_graph(), prefixed=prefixed))
    _assert_fox(gen)


def test_graph_in_usercomment_and_model_tag_is_read_once() -> None:
    graph = f.comfy_graph()
    data = f.exif_image("WEBP", ifd0={f.MODEL: "prompt:" + json.dumps(graph),
                                      f.USER_COMMENT: json.dumps({"prompt": graph})})
    gen = read_bytes(data)
    _assert_fox(gen)
    assert gen.formats == ["comfyui-exif"]


def test_json_usercomment_of_unknown_shape_is_not_comfyui() -> None:
    data = f.exif_image("JPEG", sub={f.USER_COMMENT: f.unicode_comment(
        json.dumps({"prompt": "just text", "extraMetadata": "{}"}))})
    gen = read_bytes(data)
    assert gen.tool is None and gen.metadata == "none"


# --- 2. SD.Next `|`-separated infotext -----------------------------------------------------

def test_sdnext_piped_infotext() -> None:
    gen = read_bytes(f.png({"parameters": f.SDNEXT_PIPED}))
    assert gen.tool == "sdnext" and gen.format == "a1111-png"
    p = gen.params
    assert (p["prompt"], p["negative_prompt"]) == ("castle on a hill, sunset", "blurry")
    assert (p["seed"], p["steps"], p["cfg"], p["sampler"]) == (3442291, 30, 6.5, "DPM++ 2M")
    assert (p["width"], p["height"], p["denoise"]) == (640, 896, 0.5)
    assert _one(gen, "checkpoint", "dreamshaper_8").hashes == {"sha256": "879db523c3"}
    assert p["extra"]["Operations"] == "txt2img; hires"
    assert gen.level == "full"


def test_pipes_inside_a_comma_separated_line_do_not_split_it() -> None:
    info = split_infotext("a | b\nSteps: 20, Sampler: Euler, Seed: 1, Styles: \"x | y\"")
    assert info.prompt == "a | b" and not info.piped
    assert info.pairs["Styles"] == "x | y"


def test_pipe_line_with_fewer_than_three_pairs_is_prompt() -> None:
    info = split_infotext("a cat | style: oil | mood")
    assert info.pairs == {} and info.prompt == "a cat | style: oil | mood"


# --- 3. prompts from encoders repro does not know ------------------------------------------

def _with_encoder(encoder: dict[str, Any], extra: dict[str, Any] | None = None) -> Generation:
    graph = f.comfy_graph(encoder=encoder)
    graph.update(extra or {})
    return parse_prompt_graph(graph)


@pytest.mark.parametrize("class_type, inputs", [
    ("TextEncodeQwenImageEdit", {"clip": ["10", 1], "prompt": "make it winter",
                                 "vae": ["4", 2]}),
    ("TextEncodeQwenImageEditPlus", {"clip": ["10", 1], "prompt": "make it winter",
                                     "image1": ["20", 0]}),
    ("TextEncodeHunyuanVideo_ImageToVideo", {"clip": ["10", 1], "prompt": "make it winter",
                                             "clip_vision_output": ["21", 0],
                                             "image_interleave": 2}),
    ("Power Prompt (rgthree)", {"prompt": "make it winter", "opt_clip": ["10", 1],
                                "insert_lora": "CHOOSE", "insert_embedding": "CHOOSE",
                                "insert_saved": "CHOOSE"}),
    ("SomeNewEncoder2027", {"clip": ["10", 1], "user_prompt": "make it winter",
                            "system_prompt": "You are a helpful assistant."}),
])
def test_prompt_of_unknown_encoder_found_by_the_graph(class_type: str,
                                                      inputs: dict[str, Any]) -> None:
    helpers = {"20": {"inputs": {"image": "in.png"}, "class_type": "LoadImage"},
               "21": {"inputs": {"clip_vision": ["22", 0], "image": ["20", 0]},
                      "class_type": "CLIPVisionEncode"},
               "22": {"inputs": {"clip_name": "clip_vision_h.safetensors"},
                      "class_type": "CLIPVisionLoader"}}
    gen = _with_encoder({"inputs": inputs, "class_type": class_type}, helpers)
    assert gen.params["prompt"] == "make it winter"
    assert gen.params["negative_prompt"] == "blurry"
    assert "6.prompt" not in gen.params and "6.user_prompt" not in gen.params
    if "insert_lora" in inputs:
        assert gen.params["6.insert_lora"] == "CHOOSE"  # a choice, not prompt text
    if "system_prompt" in inputs:
        assert gen.params["6.system_prompt"].startswith("You are")  # a preset, not the prompt


def test_prompt_through_string_nodes_and_unknown_pass_through() -> None:
    encoder = {"inputs": {"clip": ["10", 1], "prompt": ["30", 0]},
               "class_type": "TextEncodeQwenImageEdit"}
    extra = {
        "30": {"inputs": {"string_a": ["31", 0], "string_b": "in snow", "delimiter": " "},
               "class_type": "StringConcatenate"},
        "31": {"inputs": {"value": "a red fox"}, "class_type": "PrimitiveStringMultiline"},
        # An unknown conditioning node between the encoder and the sampler.
        "32": {"inputs": {"c_in": ["6", 0], "amount": 0.3}, "class_type": "CondTweaker"},
    }
    graph = f.comfy_graph(encoder=encoder)
    graph.update(extra)
    graph["3"]["inputs"]["positive"] = ["32", 0]
    gen = parse_prompt_graph(graph)
    assert gen.params["prompt"] == "a red fox\nin snow"


def test_prompt_walk_stops_at_another_sampler() -> None:
    graph = f.comfy_graph()
    # A second stage whose positive comes from an unknown node fed by the first
    # stage's latent: the first stage's texts are not this stage's prompt.
    graph["40"] = {"inputs": {"samples": ["3", 0]}, "class_type": "LatentToCond"}
    graph["41"] = dict(graph["3"], inputs=dict(graph["3"]["inputs"], positive=["40", 0],
                                               latent_image=["3", 0]))
    graph["8"]["inputs"]["samples"] = ["41", 0]
    gen = parse_prompt_graph(graph)
    assert "prompt" not in gen.params


# --- 4. NovelAI WebP ---------------------------------------------------------------------

@pytest.mark.parametrize("fields_json", [True, False])
def test_novelai_webp_prompt_without_nul_bytes(fields_json: bool) -> None:
    gen = read_bytes(f.novelai_webp(fields_json=fields_json))
    assert gen.tool == "novelai" and gen.format == "novelai-exif"
    p = gen.params
    assert p["prompt"] == "1girl, masterpiece, night sky"
    assert (p["seed"], p["steps"], p["cfg"]) == (2904215623, 28, 5.0)
    assert (p["width"], p["height"], p["sampler"]) == (832, 1216, "k_euler_ancestral")
    assert p["negative_prompt"] == "lowres, bad anatomy"
    assert gen.level == "partial"  # a closed service, never full


# --- 5. SwarmUI + ComfyUI ------------------------------------------------------------------

def test_swarmui_png_with_comfyui_graph_keeps_both() -> None:
    gen = read_bytes(f.swarm_comfy_png())
    assert (gen.tool, gen.tool_version) == ("swarmui", "0.9.3.1")
    assert gen.formats == ["comfyui-png", "swarmui-png"]
    ckpt = _one(gen, "checkpoint")
    assert ckpt.name == "sd_xl_base_1.0.safetensors" and ckpt.node == "4"  # from the graph
    assert ckpt.hashes == {"tensor_sha256": f.SWARM_HASH[2:]}              # from Swarm
    assert (gen.params["width"], gen.params["height"]) == (1536, 1152)     # after upscale
    assert gen.params["samplers"][0]["seed"] == 851616030078638
    assert gen.params["extra"]["swarmui"]["refinerupscale"] == 1.5
    assert gen.level == "full"


# --- 6. RuinedFooocus ---------------------------------------------------------------------

@pytest.mark.parametrize("era, scheme, digest", [("2023", "autov1", "8a3b9c1d"),
                                                 ("2025", "sha256", f.SHA)])
def test_ruinedfooocus(era: str, scheme: str, digest: str) -> None:
    gen = read_bytes(f.ruinedfooocus_png(era))
    assert gen.tool == "fooocus" and gen.params["extra"]["software"] == "RuinedFooocus"
    p = gen.params
    assert (p["prompt"], p["negative_prompt"]) == ("a lighthouse in a storm", "text, watermark")
    assert (p["cfg"], p["steps"], p["seed"]) == (7.0, 30, 7728391)
    assert (p["width"], p["height"]) == (1152, 896)
    assert (p["sampler"], p["scheduler"]) == ("dpmpp_2m_sde_gpu", "karras")
    ckpt = _one(gen, "checkpoint", "juggernautXL_v9.safetensors")
    assert ckpt.hashes == {scheme: digest}
    for key in ("Prompt", "Negative", "cfg", "base_model_name", "base_model_hash"):
        assert key not in p["extra"]
    assert _one(gen, "lora", "add_detail" if era == "2023" else
                "add_detail.safetensors").strength == 0.5
    assert gen.level == "full"
    _no_false_reasons(gen)


# --- 7. Hugging Face Spaces ------------------------------------------------------------------

@pytest.mark.parametrize("version, key, digest, name", [
    ("3.1", "metadata", "e3c47aedb0", "Animagine XL 3.1"),
    ("4.0", "metadata", "6327eca98b", "Animagine XL 4.0 Opt"),
    ("4.0", "parameters", "6327eca98b", "Animagine XL 4.0 Opt"),
    ("4.0", "metadata", f.SHA, "Animagine XL 4.0 Opt"),
])
def test_diffusers_space(version: str, key: str, digest: str, name: str) -> None:
    gen = read_bytes(f.space_png(version, key, digest))
    assert gen.tool == "diffusers" and gen.format == "diffusers-png"
    p = gen.params
    assert (p["prompt"], p["negative_prompt"]) == ("1girl, cherry blossoms", "nsfw, lowres")
    assert (p["width"], p["height"], p["steps"], p["cfg"]) == (832, 1216, 28, 7.0)
    assert (p["seed"], p["sampler"]) == (1184729, "Euler a")
    ckpt = _one(gen, "checkpoint", name)
    assert ckpt.hashes == {"sha256": digest}
    assert gen.level == "approximate"
    assert len(gen.reasons) == 1 and "versions are not recorded" in gen.reasons[0]
    assert not gen.warnings
    _no_false_reasons(gen)


@pytest.mark.parametrize("key", ["sha256", "hash", "model_sha256"])
def test_space_hash_only_from_model_hash(key: str) -> None:
    # No Space was found writing the checkpoint's hash under another key; a bare
    # "sha256" may be the image's own, so it is kept, never taken for the model's.
    data = {"prompt": "a cat", "num_inference_steps": 20, "guidance_scale": 5,
            "Model": "Animagine XL 4.0", key: f.SHA}
    gen = read_bytes(f.png({"metadata": json.dumps(data)}))
    assert _one(gen, "checkpoint").hashes == {}
    assert gen.params["extra"][key] == f.SHA


def test_other_metadata_chunks_are_not_spaces_and_not_warned_about() -> None:
    for text in ('{"sequence": [1, 2], "date_added": "2025-01-01"}', "{not json",
                 '{"guidance_scale": 7}'):
        gen = read_bytes(f.png({"metadata": text}))
        assert gen.tool is None and gen.metadata == "none" and not gen.warnings, text


def test_easy_diffusion_json_is_still_easy_diffusion() -> None:
    data = {"prompt": "a cat", "seed": 3, "use_stable_diffusion_model": "sd-v1-4",
            "num_inference_steps": 25, "guidance_scale": 7.5, "sampler_name": "euler",
            "width": 512, "height": 512}
    gen = read_bytes(f.png({"parameters": json.dumps(data)}))
    assert gen.format == "easydiffusion-png"


# --- 8. models used but not recorded as models ---------------------------------------------

@pytest.mark.parametrize("container", ["png", "jpeg"])
def test_hires_adetailer_controlnet_are_models(container: str) -> None:
    data = (f.png({"parameters": f.A1111_EXTENSIONS}) if container == "png"
            else f.a1111_jpeg(f.A1111_EXTENSIONS))
    gen = read_bytes(data)
    assert _one(gen, "upscaler").name == "R-ESRGAN 4x+ Anime6B"
    detectors = sorted(m.name for m in gen.models if m.role == "detector")
    assert detectors == ["face_yolov8n.pt", "hand_yolov8s.pt"]  # mediapipe loads no file
    cn = _one(gen, "controlnet")
    assert (cn.name, cn.hashes, cn.strength) == ("control_v11p_sd15_openpose",
                                                 {"autov1": "cab727d4"}, 0.8)
    extra = gen.params["extra"]
    assert "Hires upscaler" not in extra and "ADetailer model" not in extra
    assert "ControlNet 0" not in extra
    assert extra["ADetailer model 3rd"] == "mediapipe_face_full"


@pytest.mark.parametrize("name", ["Latent", "Latent (nearest-exact)", "Lanczos", "None"])
def test_builtin_hires_upscaler_is_a_parameter(name: str) -> None:
    gen = parse_a1111(f"x\nSteps: 20, Seed: 1, Model: m, Hires upscaler: {name}")
    assert not any(m.role == "upscaler" for m in gen.models)
    assert gen.params["extra"]["Hires upscaler"] == name
    assert gen.level == "full"


def test_legacy_controlnet_and_adetailer_models_and_hires_checkpoint() -> None:
    gen = parse_a1111(
        "x\nSteps: 20, Seed: 1, Model: m, Hires checkpoint: animeXL [0123456789], "
        'ControlNet: "preprocessor: canny, model: control_sd15_canny [fef5e48e], weight: 1, '
        'starting/ending: (0, 1), resize mode: Crop and Resize, pixel perfect: False", '
        "ADetailer ControlNet model: control_v11p_sd15_inpaint [ebff9138], "
        "ADetailer checkpoint: Use same checkpoint")
    assert _one(gen, "controlnet", "control_sd15_canny").hashes == {"autov1": "fef5e48e"}
    assert _one(gen, "controlnet", "control_v11p_sd15_inpaint").hashes == {
        "autov1": "ebff9138"}
    assert _one(gen, "checkpoint", "animeXL").hashes == {"sha256": "0123456789"}
    assert len([m for m in gen.models if m.role == "checkpoint"]) == 2


def test_unknown_model_key_keeps_the_level_below_full() -> None:
    gen = parse_a1111("x\nSteps: 20, Seed: 1, Model: m, FaceFix detector model: eyes_v2.pt")
    assert gen.level == "partial"
    assert any("FaceFix detector model" in r for r in gen.reasons)


@pytest.mark.parametrize("container", ["png", "jpeg"])
@pytest.mark.parametrize("restorer", ["CodeFormer", "GFPGAN"])
def test_face_restorer_is_a_model_known_by_name_only(container: str, restorer: str) -> None:
    text = f.A1111_EXTENSIONS.replace("Seed: 1234, ", f"Seed: 1234, Face restoration: {restorer}, ")
    gen = read_bytes(f.png({"parameters": text}) if container == "png" else f.a1111_jpeg(text))
    assert _one(gen, "face_restorer").to_dict() == {"role": "face_restorer", "name": restorer}
    assert "Face restoration" not in gen.params["extra"]
    # The name is the restorer's, not its weights file's, and no hash is recorded.
    assert gen.level == "partial"
    assert [r for r in gen.reasons if restorer in r and "which weights ran" in r]
    assert len(gen.reasons) == 1, gen.reasons


@pytest.mark.parametrize("per_field", [False, True])
def test_easy_diffusion_face_correction_upscaler_controlnet_embeddings_are_models(
        per_field: bool) -> None:
    # easydiffusion/utils/save_utils.py TASK_TEXT_MAPPING: JSON keys, or Title-case
    # PNG text fields.
    json_fields = {"prompt": "a cat", "seed": 3, "use_stable_diffusion_model": "sd-v1-4",
                   "num_inference_steps": 25, "guidance_scale": 7.5, "sampler_name": "euler",
                   "use_face_correction": "GFPGANv1.4", "use_upscale": "RealESRGAN_x4plus",
                   "use_controlnet_model": "control_v11p_sd15_canny"}
    text_fields = {"Prompt": "a cat", "Seed": "3", "Stable Diffusion model": "sd-v1-4",
                   "Steps": "25", "Guidance Scale": "7.5", "Sampler": "euler",
                   "Use Face Correction": "GFPGANv1.4", "Use Upscaling": "RealESRGAN_x4plus",
                   "ControlNet model": "control_v11p_sd15_canny"}
    if per_field:
        gen = read_bytes(f.png(text_fields))
    else:
        gen = read_bytes(f.png({"parameters": json.dumps(
            {**json_fields, "use_embedding_models": ["easynegative"]})}))
    roles = {m.role: m.name for m in gen.models}
    assert roles["face_restorer"] == "GFPGANv1.4" and roles["upscaler"] == "RealESRGAN_x4plus"
    assert roles["controlnet"] == "control_v11p_sd15_canny"
    assert roles.get("embedding") == (None if per_field else "easynegative")
    extra = gen.params["extra"]
    assert not {"use_face_correction", "Use Face Correction", "use_upscale",
                "use_embedding_models"} & extra.keys()
    assert gen.level == "full", gen.reasons


@pytest.mark.parametrize("off", ["None", "False", ""])
def test_easy_diffusion_face_correction_off_is_no_model(off: str) -> None:
    gen = read_bytes(f.png({"Prompt": "a cat", "Seed": "3", "Stable Diffusion model": "m",
                            "Steps": "25", "Use Face Correction": off}))
    assert [m.role for m in gen.models] == ["checkpoint"]


def test_easy_diffusion_embeddings_in_an_unknown_form_keep_it_below_full() -> None:
    gen = read_bytes(f.png({"Prompt": "a cat", "Seed": "3", "Stable Diffusion model": "m",
                            "Steps": "25", "Embedding models": "easynegative, badhands"}))
    assert gen.level == "partial"
    assert any("embeddings" in r for r in gen.reasons)


def test_face_restorer_reason_comes_with_other_gaps() -> None:
    gen = parse_a1111("x\nSteps: 20, Face restoration: CodeFormer, Model: m")
    assert gen.level == "partial"
    assert any("no seed" in r for r in gen.reasons)
    assert any("CodeFormer" in r for r in gen.reasons)


# --- 9. honest reasons ------------------------------------------------------------------

def test_reasons_of_round2_formats_say_what_is_true() -> None:
    for data in (f.ruinedfooocus_png(), f.space_png(), f.comfy_civitai_jpeg(f.comfy_graph()),
                 f.comfy_wrapper("WEBP", f.comfy_graph())):
        gen = read_bytes(data)
        assert gen.metadata == "execution" and gen.level != "none"
        _no_false_reasons(gen)


# --- 10. speed -------------------------------------------------------------------------------

def test_mixed_set_reads_fast_in_cpu_time() -> None:
    # A guard against regressions, in CPU time (a shared machine's load moves wall time a
    # lot): bench/bench_formats.py measures the real figure against Pillow. 128-node
    # graphs take about 1 ms here; the mean of the mix is about 0.5 ms.
    import time

    files = [data for _name, data in f.mixed_set(20)]
    for data in files:
        read_bytes(data).to_dict()
    start = time.process_time()
    for _ in range(3):
        for data in files:
            read_bytes(data).to_dict()
    per_file = (time.process_time() - start) / (3 * len(files))
    assert per_file < 0.004, f"{per_file * 1e3:.2f} ms per file"


def test_reading_makes_no_reference_cycles() -> None:
    # inspect pauses the cycle collector over a batch (api/inspect.py): that is only
    # safe while reference counting alone frees everything a reading builds.
    import gc

    from tests.paths import CORPUS

    files = [data for _name, data in f.mixed_set(10)]
    files += [p.read_bytes() for p in sorted(CORPUS.rglob("*")) if p.suffix.lower() in
              (".png", ".jpg", ".jpeg", ".webp", ".gif")]
    files += [b"", b"\x89PNG\r\n\x1a\n" + b"\0" * 40, f.png({"parameters": "{broken"})]
    gc.collect()
    gc.disable()
    try:
        for data in files:
            with contextlib.suppress(ReproError):
                read_bytes(data).to_dict()
        assert gc.collect() == 0
    finally:
        gc.enable()


# --- hostile shapes of the new readers ------------------------------------------------------

_KEYS = ["prompt", "workflow", "extra", "extraMetadata", "software", "Prompt", "Negative",
         "loras", "base_model_name", "base_model_hash", "Model", "Model hash", "resolution",
         "num_inference_steps", "guidance_scale", "seed", "sui_image_params", "Software",
         "Comment", "Description", "nodes", "links", "class_type", "inputs", "1", "2"]
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
    | st.sampled_from(["RuinedFooocus", "NovelAI", "0.5 - x.safetensors", "Loras:<a:1>",
                       "832 x 1216", "{}", '{"1": {"class_type": "X"}}', "0x" + "a" * 64]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_KEYS), inner,
                                                                max_size=4),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=8))
def test_any_json_shape_reads_or_fails_cleanly(data: dict[str, Any]) -> None:
    text = json.dumps(data, allow_nan=False) if _finite(data) else "{}"
    for payload in (f.png({"parameters": text}),
                    f.exif_image("JPEG", sub={f.USER_COMMENT: f.unicode_comment(text)}),
                    f.exif_image("WEBP", ifd0={f.USER_COMMENT: text, f.SOFTWARE: "NovelAI",
                                               f.IMAGE_DESCRIPTION: text})):
        gen = read_bytes(payload)  # never raises: unreadable metadata is a warning
        assert gen.level in ("full", "approximate", "partial", "none")
        gen.to_dict()


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True
