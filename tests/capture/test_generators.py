"""Generator readers on files built here: Fooocus, SwarmUI, InvokeAI, NovelAI, Draw Things,
Easy Diffusion, Midjourney text, and a ComfyUI + A1111 saver file."""

from __future__ import annotations

import gzip
import json

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from repro.capture import read_bytes
from repro.capture.novelai import CLOSED_REASON
from tests.capture import builders as b


def _png_with(**fields: str) -> bytes:
    info = PngInfo()
    for key, value in fields.items():
        info.add_text(key.replace("__", "-"), value)
    return b.save(Image.new("RGB", (4, 4)), "PNG", pnginfo=info)


FOOOCUS = {"prompt": "a goldfish", "negative_prompt": "", "seed": "6952411511246973023",
           "steps": 30, "guidance_scale": 4, "sampler": "dpmpp_2m_sde_gpu", "scheduler": "karras",
           "resolution": "(768, 1280)", "base_model": "juggernautXL_v8", "base_model_hash":
           "aeb7e9e689", "loras": [["add_detail", 0.5, "0a1b2c3d4e"]], "refiner_model": "None",
           "version": "Fooocus v2.5.0", "metadata_scheme": "fooocus", "performance": "Speed"}


def test_fooocus_jpeg_ifd0_usercomment_written_like_fooocus() -> None:
    # What Fooocus' get_exif does: IFD0 UserComment without prefix, Software, MakerNote.
    exif = Image.Exif()
    exif[0x9286] = json.dumps(FOOOCUS)
    exif[0x0131] = "Fooocus v2.5.0"
    exif[0x927C] = "fooocus"
    data = b.save(Image.new("RGB", (12, 8)), "JPEG", exif=exif, quality=95)
    gen = read_bytes(data)
    assert gen.tool == "fooocus" and gen.format == "fooocus-exif"
    assert gen.tool_version == "v2.5.0"
    assert gen.params["seed"] == 6952411511246973023
    assert (gen.params["width"], gen.params["height"]) == (768, 1280)
    assert gen.params["cfg"] == 4.0
    ckpt = next(m for m in gen.models if m.role == "checkpoint")
    assert ckpt.hashes == {"sha256": "aeb7e9e689"}
    lora = next(m for m in gen.models if m.role == "lora")
    assert (lora.name, lora.strength, lora.hashes) == ("add_detail", 0.5, {"sha256": "0a1b2c3d4e"})
    assert gen.level == "full"


def test_fooocus_png_a1111_scheme() -> None:
    text = ("a goldfish\nNegative prompt: ugly\nSteps: 30, Sampler: dpmpp_2m_sde_gpu, "
            "Scheduler: karras, Seed: 12, CFG scale: 4, Size: 768x1280, Model: juggernaut, "
            'Model hash: aeb7e9e689, Lora hashes: "add_detail: 0a1b2c3d4e", '
            'Lora weights: "add_detail: 0.5", Version: Fooocus v2.5.0')
    gen = read_bytes(_png_with(parameters=text, fooocus_scheme="a1111"))
    assert (gen.tool, gen.tool_version) == ("fooocus", "v2.5.0")
    assert gen.params["scheduler"] == "karras"
    lora = next(m for m in gen.models if m.role == "lora")
    assert lora.strength == 0.5 and lora.hashes == {"sha256": "0a1b2c3d4e"}


SWARM = {"sui_image_params": {"prompt": "a cat ✓", "negativeprompt": "dog", "model":
         "SDXL/juggernaut", "seed": 1974039850, "steps": "30", "cfgscale": "7.0", "width": 512,
         "height": 512, "sampler": "euler", "loras": ["detail"], "loraweights": ["0.8"],
         "swarm_version": "0.9.6.3"}, "sui_extra_data": {"date": "2025-01-01"},
         "sui_models": [{"name": "SDXL/juggernaut.safetensors", "param": "model",
                         "hash": "0x7EA19A26FD6A34523A95717C34716E9C9587DABCFAC4761690215EAAAB6A0710"},
                        {"name": "detail.safetensors", "param": "loras", "hash": None}]}


def test_swarmui_jpeg_both_byte_orders() -> None:
    text = json.dumps(SWARM, indent=2, ensure_ascii=False)
    for order, charset in (("II", "unicode-le"), ("MM", "unicode-be")):
        blob = b.tiff({}, {0x9286: (b.UNDEFINED, b.user_comment(text, charset))}, order=order)
        gen = read_bytes(b.jpeg(b.app1_exif(blob)))
        assert (gen.tool, gen.tool_version) == ("swarmui", "0.9.6.3")
        assert gen.params["prompt"] == "a cat ✓"
        assert gen.params["cfg"] == 7.0 and gen.params["steps"] == 30
        ckpt = next(m for m in gen.models if m.role == "checkpoint")
        assert ckpt.name == "SDXL/juggernaut"
        assert ckpt.hashes == {"tensor_sha256": SWARM["sui_models"][0]["hash"][2:].lower()}
        lora = next(m for m in gen.models if m.role == "lora")
        assert (lora.name, lora.strength) == ("detail", 0.8)


def test_swarmui_png_parameters_and_legacy_ifd0_model() -> None:
    gen = read_bytes(_png_with(parameters=json.dumps(SWARM)))
    assert gen.format == "swarmui-png"
    legacy = b.tiff({0x0110: (b.ASCII, json.dumps(SWARM).encode() + b"\0")})
    gen = read_bytes(b.jpeg(b.app1_exif(legacy)))
    assert gen.tool == "swarmui" and gen.params["seed"] == 1974039850


def test_invokeai_5_blake3_hashes_and_inputs() -> None:
    meta = {"app_version": "5.4.2", "generation_mode": "sdxl_img2img", "positive_prompt": "p",
            "negative_prompt": "n", "seed": 42, "steps": 30, "cfg_scale": 6.5, "width": 1024,
            "height": 1024, "scheduler": "dpmpp_2m_k", "rand_device": "cpu", "strength": 0.6,
            "model": {"key": "k", "hash": "blake3:" + "ab" * 32, "name": "juggernaut",
                      "base": "sdxl", "type": "main"},
            "loras": [{"model": {"name": "detail", "hash": "blake3:" + "cd" * 32}, "weight": 0.7}],
            "controlnets": [{"control_model": {"name": "canny"}, "control_weight": 0.9,
                             "image": {"image_name": "edges.png"}}],
            "init_image": "source.png"}
    gen = read_bytes(_png_with(invokeai_metadata=json.dumps(meta), invokeai_graph="{}"))
    assert (gen.tool, gen.tool_version) == ("invokeai", "5.4.2")
    assert gen.params["rng"] == "cpu" and gen.params["denoise"] == 0.6
    ckpt = next(m for m in gen.models if m.role == "checkpoint")
    assert ckpt.hashes == {"blake3": "ab" * 32}
    lora = next(m for m in gen.models if m.role == "lora")
    assert (lora.strength, lora.hashes) == (0.7, {"blake3": "cd" * 32})
    assert {(i.role, i.name) for i in gen.inputs} == {("image", "edges.png"),
                                                      ("init_image", "source.png")}
    assert "invokeai_graph" in gen.blobs


def test_invokeai_dream_line() -> None:
    gen = read_bytes(_png_with(Dream='"a tree [fog, rain]" -s 25 -S 99 -W 640 -H 480 -C 7.5 '
                                     '-A k_euler -U 2 0.5'))
    assert gen.params["prompt"] == "a tree"
    assert gen.params["negative_prompt"] == "fog, rain"
    assert (gen.params["steps"], gen.params["seed"], gen.params["cfg"]) == (25, 99, 7.5)
    assert gen.params["extra"]["-U"] == "2 0.5"
    assert gen.level == "partial"


NOVELAI_COMMENT = {"steps": 28, "sampler": "k_euler", "seed": 3141592653, "scale": 5.0,
                   "uc": "lowres", "width": 832, "height": 1216, "noise_schedule": "karras"}


def test_novelai_png_text() -> None:
    gen = read_bytes(_png_with(Title="NovelAI generated image", Description="a fox",
                               Software="NovelAI", Source="NovelAI Diffusion V4.5 4BDE2A90",
                               Comment=json.dumps(NOVELAI_COMMENT)))
    assert gen.tool == "novelai"
    assert gen.params["seed"] == 3141592653 and gen.params["negative_prompt"] == "lowres"
    assert gen.level == "partial"
    assert CLOSED_REASON in gen.reasons
    assert gen.models[0].name == "NovelAI Diffusion V4.5 4BDE2A90"


def test_novelai_stealth_with_double_encoded_comment() -> None:
    fields = {"Description": "a fox", "Software": "NovelAI", "Source": "NovelAI Diffusion 1",
              "Comment": json.dumps(json.dumps(NOVELAI_COMMENT))}
    image = b.stealth_image(gzip.compress(json.dumps(fields).encode()), "stealth_pngcomp",
                            size=(96, 64))
    gen = read_bytes(b.save(image))
    assert gen.tool == "novelai" and gen.format == "novelai-stealth"
    assert gen.params["seed"] == 3141592653
    assert gen.level == "partial"


def test_drawthings_xmp_usercomment() -> None:
    comment = {"c": "a lighthouse", "uc": "fog", "seed": 1105283975, "steps": 30, "scale": 5.0,
               "sampler": "DPM++ 2M AYS", "size": "512x768", "model": "flux_1_dev_q5p.ckpt",
               "lora": [{"model": "detail_lora_f16.ckpt", "weight": 0.8}], "shift": 2.04}
    xmp = b.xmp_packet(
        '<xmp:CreatorTool xmlns:xmp="http://ns.adobe.com/xap/1.0/">Draw Things</xmp:CreatorTool>'
        '<exif:UserComment><rdf:Alt><rdf:li xml:lang="x-default">'
        + json.dumps(comment).replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
        + "</rdf:li></rdf:Alt></exif:UserComment>")
    gen = read_bytes(b.png([b.itxt("XML:com.adobe.xmp", xmp)]))
    assert gen.tool == "drawthings" and gen.format == "drawthings-xmp"
    assert gen.params["seed"] == 1105283975
    assert (gen.params["width"], gen.params["height"]) == (512, 768)
    assert {(m.role, m.name) for m in gen.models} == {("checkpoint", "flux_1_dev_q5p.ckpt"),
                                                      ("lora", "detail_lora_f16.ckpt")}
    assert gen.level == "full"


def test_easy_diffusion_png_prompt_is_not_comfyui() -> None:
    gen = read_bytes(_png_with(prompt="a plain text prompt", negative_prompt="blur", seed="77",
                               use_stable_diffusion_model="sd-v1-5", num_inference_steps="25",
                               guidance_scale="7.5", sampler_name="euler_a", width="512",
                               height="512"))
    assert gen.format == "easydiffusion-png"
    assert gen.params["prompt"] == "a plain text prompt"
    assert (gen.params["seed"], gen.params["steps"], gen.params["cfg"]) == (77, 25, 7.5)
    assert gen.models[0].name == "sd-v1-5"
    assert gen.level == "full"


def test_midjourney_description_is_provenance_only() -> None:
    blob = b.tiff({0x010E: (b.ASCII, b"a koi pond, ukiyo-e --ar 16:9 --v 6.1 Job ID: 1\0")})
    gen = read_bytes(b.jpeg(b.app1_exif(blob)))
    assert gen.tool == "midjourney"
    assert (gen.metadata, gen.level) == ("provenance-only", "none")
    assert gen.params["prompt"].startswith("a koi pond")
    assert gen.params["extra"]["flags"]["ar"] == "16:9"
    assert gen.reasons


def test_comfyui_plus_a1111_saver_merges_recorded_hashes() -> None:
    prompt = {
        "3": {"class_type": "KSampler", "inputs": {
            "seed": 2**64 - 1, "steps": 20, "cfg": 7.0, "sampler_name": "euler",
            "scheduler": "normal", "denoise": 1.0, "model": ["10", 0], "positive": ["6", 0],
            "negative": ["7", 0], "latent_image": ["5", 0]}},
        "4": {"class_type": "CheckpointLoaderSimple",
              "inputs": {"ckpt_name": "sdxl/juggernaut.safetensors"}},
        "10": {"class_type": "LoraLoader", "inputs": {
            "lora_name": "detail.safetensors", "strength_model": 0.5, "strength_clip": 0.5,
            "model": ["4", 0], "clip": ["4", 1]}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 512,
                                                           "batch_size": 1}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a fox", "clip": ["10", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blur", "clip": ["10", 1]}},
        "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    }
    infotext = ("a fox\nNegative prompt: blur\nSteps: 20, Sampler: Euler, CFG scale: 7, "
                f"Seed: {2**64 - 1}, Size: 512x512, Model hash: 1234abcd56, Model: juggernaut, "
                'Lora hashes: "detail: 0a1b2c3d4e", Version: ComfyUI')
    gen = read_bytes(_png_with(parameters=infotext, prompt=json.dumps(prompt)))
    assert gen.tool == "comfyui" and gen.format == "comfyui-png"
    assert gen.formats == ["comfyui-png", "a1111-png"]
    assert gen.params["seed"] == 2**64 - 1
    ckpt = next(m for m in gen.models if m.role == "checkpoint")
    assert ckpt.name == "sdxl/juggernaut.safetensors"
    assert ckpt.hashes.get("sha256") == "1234abcd56"
    lora = next(m for m in gen.models if m.role == "lora")
    assert lora.hashes.get("sha256") == "0a1b2c3d4e"
    assert set(gen.blobs) >= {"prompt", "parameters"}
