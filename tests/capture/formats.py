"""Files in the formats of issue 15, written with Pillow the way each writer does.

Each builder follows the writer's public code as FORMATS.md (round 2) cites it;
none copies a real file. ``mixed_set`` is the JPEG/WebP-heavy mix the speed
benchmark (bench/bench_formats.py) and the speed test read.
"""

from __future__ import annotations

import io
import json
from typing import Any

from PIL import Image
from PIL.PngImagePlugin import PngInfo

EXIF_IFD = 0x8769
USER_COMMENT = 0x9286
IMAGE_DESCRIPTION, MAKE, MODEL, SOFTWARE = 0x010E, 0x010F, 0x0110, 0x0131
SHA = "a" * 16 + "0123456789abcdef" * 3


def _image(size: tuple[int, int] = (16, 12), mode: str = "RGB") -> Image.Image:
    return Image.new(mode, size, (90, 120, 150) if mode == "RGB" else (90, 120, 150, 255))


def _save(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def png(fields: dict[str, str], size: tuple[int, int] = (16, 12)) -> bytes:
    """A PNG with text chunks, as Pillow's PngInfo writes them (tEXt or iTXt)."""
    info = PngInfo()
    for key, value in fields.items():
        info.add_text(key, value)
    return _save(_image(size), "PNG", pnginfo=info)


def unicode_comment(text: str) -> bytes:
    """EXIF UserComment as piexif ``dump(..., encoding="unicode")`` writes it."""
    return b"UNICODE\0" + text.encode("utf-16-be")


def exif_image(fmt: str, *, ifd0: dict[int, Any] | None = None,
               sub: dict[int, Any] | None = None, size: tuple[int, int] = (16, 12)) -> bytes:
    """A JPEG or WebP whose EXIF holds these IFD0 and Exif sub-IFD tags."""
    exif = Image.Exif()
    for tag, value in (ifd0 or {}).items():
        exif[tag] = value
    if sub:
        exif.get_ifd(EXIF_IFD).update(sub)
    return _save(_image(size), fmt, exif=exif, quality=90)


# --- ComfyUI ---------------------------------------------------------------------------

def comfy_graph(*, encoder: dict[str, Any] | None = None, negative: str = "blurry",
                extra_nodes: int = 0, seed: int = 851616030078638) -> dict[str, Any]:
    """A txt2img API graph (checkpoint, LoRA, two encoders, KSampler, SaveImage);
    ``encoder`` replaces the positive CLIPTextEncode node; ``extra_nodes`` adds
    unconnected-but-executed note nodes to make a big graph."""
    graph: dict[str, Any] = {
        "4": {"inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"},
              "class_type": "CheckpointLoaderSimple"},
        "10": {"inputs": {"lora_name": "detail.safetensors", "strength_model": 0.8,
                          "strength_clip": 1.0, "model": ["4", 0], "clip": ["4", 1]},
               "class_type": "LoraLoader"},
        "6": encoder or {"inputs": {"text": "a red fox in snow", "clip": ["10", 1]},
                         "class_type": "CLIPTextEncode"},
        "7": {"inputs": {"text": negative, "clip": ["10", 1]}, "class_type": "CLIPTextEncode"},
        "5": {"inputs": {"width": 1024, "height": 768, "batch_size": 1},
              "class_type": "EmptyLatentImage"},
        "3": {"inputs": {"seed": seed, "steps": 25, "cfg": 6.5, "sampler_name": "dpmpp_2m",
                         "scheduler": "karras", "denoise": 1.0, "model": ["10", 0],
                         "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]},
              "class_type": "KSampler"},
        "8": {"inputs": {"samples": ["3", 0], "vae": ["4", 2]}, "class_type": "VAEDecode"},
        "9": {"inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]},
              "class_type": "SaveImage"},
    }
    previous = "8"
    for i in range(extra_nodes):
        # Big real graphs are long chains of image operations before the saver.
        node_id = str(100 + i)
        graph[node_id] = {"inputs": {"upscale_method": "lanczos", "scale_by": 1.0,
                                     "image": [previous, 0]},
                          "class_type": "ImageScaleBy", "_meta": {"title": "Upscale Image By"}}
        previous = node_id
    graph["9"]["inputs"]["images"] = [previous, 0]
    return graph


def ui_workflow(graph: dict[str, Any]) -> dict[str, Any]:
    """An editor workflow for a graph: one litegraph node per prompt node, with the
    position, size, slots and widget values the frontend saves."""
    nodes = [{"id": int(k) if k.isdigit() else i, "type": v["class_type"],
              "pos": [100.0 + 20 * i, 200.5], "size": [315, 262], "flags": {}, "order": i,
              "mode": 0,
              "inputs": [{"name": n, "type": n.upper(), "link": i * 3 + j}
                         for j, (n, x) in enumerate(v["inputs"].items()) if isinstance(x, list)],
              "outputs": [{"name": "OUT", "type": "IMAGE", "links": [i * 3 + 7], "slot_index": 0}],
              "properties": {"Node name for S&R": v["class_type"]},
              "widgets_values": [x for x in v["inputs"].values() if not isinstance(x, list)]}
             for i, (k, v) in enumerate(graph.items())]
    return {"last_node_id": len(nodes), "last_link_id": 0, "nodes": nodes, "links": [],
            "groups": [], "config": {}, "extra": {"ds": {"scale": 1.0, "offset": [0, 0]}},
            "version": 0.4}


def comfy_png(graph: dict[str, Any]) -> bytes:
    """Core SaveImage: tEXt ``prompt`` and ``workflow`` (json.dumps, ASCII)."""
    return png({"prompt": json.dumps(graph), "workflow": json.dumps(ui_workflow(graph))})


def comfy_webp_core(graph: dict[str, Any]) -> bytes:
    """Core SaveAnimatedWEBP: IFD0 Model = ``prompt:`` + JSON, Make = ``workflow:`` + JSON."""
    return exif_image("WEBP", ifd0={MODEL: "prompt:" + json.dumps(graph),
                                    MAKE: "workflow:" + json.dumps(ui_workflow(graph))})


def comfy_civitai_jpeg(graph: dict[str, Any]) -> bytes:
    """Civitai's legacy on-site JPEG: the whole API graph, plus ``extra`` and a JSON-string
    ``extraMetadata``, as the Exif sub-IFD UserComment (UNICODE, UTF-16BE)."""
    body = dict(graph)
    body["extra"] = {"airs": ["urn:air:sdxl:checkpoint:civitai:101055@128078"]}
    body["extraMetadata"] = json.dumps({"prompt": "a red fox in snow", "steps": 25,
                                        "cfgScale": 6.5, "sampler": "DPM++ 2M Karras"})
    return exif_image("JPEG", sub={USER_COMMENT: unicode_comment(json.dumps(body))})


def comfy_wrapper(fmt: str, graph: dict[str, Any]) -> bytes:
    """kaanyalova/ComfyUI_ExtendedImageFormats: ``getexif()[0x9286] = json.dumps({...})``,
    so an ASCII UserComment in IFD0 without a charset prefix."""
    wrapper = {"prompt": graph, "workflow": ui_workflow(graph)}
    return exif_image(fmt, ifd0={USER_COMMENT: json.dumps(wrapper)})


def comfy_bare_tags(fmt: str, graph: dict[str, Any], *, prefixed: bool = False) -> bytes:
    """SaveImgAdv (bare JSON) or save-image-extended (``Prompt: ``/``Workflow: ``) tags."""
    prompt, flow = json.dumps(graph), json.dumps(ui_workflow(graph))
    if prefixed:
        prompt, flow = "Prompt: " + prompt, "Workflow: " + flow
    return exif_image(fmt, ifd0={MAKE: prompt, IMAGE_DESCRIPTION: flow})


# --- A1111 family -----------------------------------------------------------------------

A1111_EXTENSIONS = (
    "1girl, garden\nNegative prompt: lowres\n"
    "Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1234, "
    "Size: 512x768, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, "
    "Denoising strength: 0.45, Hires upscale: 2, Hires steps: 10, "
    "Hires upscaler: R-ESRGAN 4x+ Anime6B, ADetailer model: face_yolov8n.pt, "
    "ADetailer confidence: 0.3, ADetailer model 2nd: hand_yolov8s.pt, "
    "ADetailer model 3rd: mediapipe_face_full, ADetailer version: 24.1.2, "
    'ControlNet 0: "Module: openpose, Model: control_v11p_sd15_openpose [cab727d4], '
    'Weight: 0.8, Resize Mode: Crop and Resize, Processor Res: 512, Threshold A: 0.5, '
    'Threshold B: 0.5, Guidance Start: 0.0, Guidance End: 1.0, Pixel Perfect: False, '
    'Control Mode: Balanced", Version: v1.7.0'
)

SDNEXT_PIPED = (
    "castle on a hill, sunset\nNegative prompt: blurry\n"
    "Steps: 30 | Sampler: DPM++ 2M | CFG scale: 6.5 | Seed: 3442291 | Size: 640x896 | "
    "Model: dreamshaper_8 | Model hash: 879db523c3 | Denoising strength: 0.5 | "
    "Version: 2d4b3d0 | Operations: txt2img; hires"
)


def a1111_jpeg(text: str) -> bytes:
    """A1111 JPEG: piexif UserComment (UNICODE, UTF-16BE) in the Exif sub-IFD."""
    return exif_image("JPEG", sub={USER_COMMENT: unicode_comment(text)})


# --- NovelAI, SwarmUI, RuinedFooocus, Spaces ----------------------------------------

NOVELAI_COMMENT = {"prompt": "1girl, masterpiece, night sky", "steps": 28, "height": 1216,
                   "width": 832, "scale": 5.0, "uncond_scale": 0.0, "cfg_rescale": 0.0,
                   "seed": 2904215623, "n_samples": 1, "noise_schedule": "karras",
                   "sampler": "k_euler_ancestral", "uc": "lowres, bad anatomy"}


def novelai_webp(*, fields_json: bool = True) -> bytes:
    """NovelAI WebP: prompt in IFD0 ImageDescription after four NUL bytes, and either all
    PNG fields as JSON in the UserComment or just ``Comment`` with Software in IFD0."""
    prompt = "\0\0\0\0" + NOVELAI_COMMENT["prompt"]
    if fields_json:
        comment = json.dumps({"Software": "NovelAI", "Source": "NovelAI Diffusion V4.5 4BDE2A90",
                              "Comment": json.dumps(NOVELAI_COMMENT),
                              "Generation time": "6.1"})
    else:
        comment = json.dumps(NOVELAI_COMMENT)
    return exif_image("WEBP", ifd0={IMAGE_DESCRIPTION: prompt, SOFTWARE: "NovelAI",
                                    USER_COMMENT: comment})


SWARM_HASH = "0x" + "b" * 16 + "fedcba9876543210" * 3


def swarm_comfy_png() -> bytes:
    """A Comfy-Workflow-tab run saved by core SaveImage, re-encoded by SwarmUI with its
    ``parameters`` JSON appended (FORMATS.md R2.5)."""
    graph = comfy_graph()
    swarm = {"sui_image_params": {
        "prompt": "a red fox in snow", "negativeprompt": "blurry", "model":
        "OfficialStableDiffusion/sd_xl_base_1.0", "seed": 851616030078638, "steps": 25,
        "cfgscale": 6.5, "width": 1024, "height": 768, "refinerupscale": 1.5,
        "refinermethod": "PostApply", "swarm_version": "0.9.3.1"},
        "sui_extra_data": {"date": "2025-03-01", "generation_time": "4.20 seconds"},
        "sui_models": [{"name": "OfficialStableDiffusion/sd_xl_base_1.0.safetensors",
                        "param": "model", "hash": SWARM_HASH}]}
    return png({"prompt": json.dumps(graph), "workflow": json.dumps(ui_workflow(graph)),
                "parameters": json.dumps(swarm, indent=2)})


def ruinedfooocus_png(era: str = "2025") -> bytes:
    """RuinedFooocus ``parameters`` = json.dumps of its per-image dict (async_worker.py)."""
    data: dict[str, Any] = {
        "Prompt": "a lighthouse in a storm", "Negative": "text, watermark", "steps": 30,
        "cfg": 7, "width": 1152, "height": 896, "seed": 7728391, "sampler_name":
        "dpmpp_2m_sde_gpu", "scheduler": "karras", "base_model_name":
        "juggernautXL_v9.safetensors", "start_step": 0, "denoise": None, "clip_skip": 1,
        "software": "RuinedFooocus"}
    if era == "2023":
        data["base_model_hash"] = "8a3b9c1d"
        data["loras"] = "Loras:<add_detail:0.5>,<film_grain:0.25>"
    else:
        data["base_model_hash"] = SHA.upper()
        data["loras"] = [["C" * 64, "0.5 - add_detail.safetensors"]]
    return png({"parameters": json.dumps(data)})


def space_png(version: str = "3.1", key: str = "metadata", digest: str | None = None) -> bytes:
    """Animagine XL Space: ``utils.save_image`` writes ``json.dumps(metadata)`` as the
    tEXt ``metadata`` (FORMATS.md R2.7 read it as ``parameters``: ``key``). 3.1 nests
    ``Model``/``Model hash`` under ``Model``; 4.0 writes them flat. ``digest`` replaces
    the Space's constant hash."""
    data: dict[str, Any] = {
        "prompt": "1girl, cherry blossoms", "negative_prompt": "nsfw, lowres",
        "resolution": "832 x 1216", "guidance_scale": 7, "num_inference_steps": 28,
        "seed": 1184729, "sampler": "Euler a", "use_upscaler": None}
    if version == "3.1":
        data["sdxl_style"] = "(None)"
        data["Model"] = {"Model": "Animagine XL 3.1", "Model hash": digest or "e3c47aedb0"}
    else:
        data["style_preset"] = "(None)"
        data["Model"] = "Animagine XL 4.0 Opt"
        data["Model hash"] = digest or "6327eca98b"
    return png({key: json.dumps(data)})


# --- the mixed set ------------------------------------------------------------------------

def mixed_set(count: int = 200) -> list[tuple[str, bytes]]:
    """``count`` files: 40% JPEG, 30% WebP, 30% PNG; the ComfyUI graphs have 128 nodes
    (28 in JPEG, whose EXIF must fit one 64 KB segment)."""
    big = comfy_graph(extra_nodes=120)        # ~25 KB prompt + ~65 KB workflow
    jpeg_graph = comfy_graph(extra_nodes=20)
    makers = [
        ("a1111.jpg", lambda: a1111_jpeg(A1111_EXTENSIONS)),
        ("civitai.jpg", lambda: comfy_civitai_jpeg(jpeg_graph)),
        ("wrapper.jpg", lambda: comfy_wrapper("JPEG", jpeg_graph)),
        ("saveimgadv.jpg", lambda: comfy_bare_tags("JPEG", jpeg_graph)),
        ("core.webp", lambda: comfy_webp_core(big)),
        ("wrapper.webp", lambda: comfy_wrapper("WEBP", big)),
        ("novelai.webp", novelai_webp),
        ("comfy.png", lambda: comfy_png(big)),
        ("swarm.png", swarm_comfy_png),
        ("ruined.png", ruinedfooocus_png),
    ]
    built = [(name, make()) for name, make in makers]
    files = []
    for i in range(count):
        name, data = built[i % len(built)]
        files.append((f"{i:04d}_{name}", data))
    return files
