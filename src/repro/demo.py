"""Builders for example files: images that carry real ComfyUI and A1111
metadata (made with Pillow) and small safetensors model files.

``repro demo`` uses them to script the story repro exists for; the tests use
them too, and keep their own builders (img2img graphs, say) in tests/helpers.py.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any


def write_safetensors(path: Path, payload: bytes, *,
                      metadata: dict[str, str] | None = None) -> Path:
    """A valid safetensors file holding ``payload`` as one U8 tensor."""
    header: dict[str, Any] = {"weight": {"dtype": "U8", "shape": [len(payload)],
                                     "data_offsets": [0, len(payload)]}}
    if metadata:
        header["__metadata__"] = metadata
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        f.write(payload)
    return path


def model_bytes(seed: int, size: int) -> bytes:
    """Deterministic pseudo-random bytes (a stand-in for weights)."""
    import random

    return random.Random(seed).randbytes(size)


def comfy_graph(*, ckpt: str, lora: str | None, lora_strength: float, seed: int,
                prompt: str, negative: str = "blurry, lowres", steps: int = 20,
                cfg: float = 7.0, width: int = 512, height: int = 512) -> dict[str, Any]:
    """A ComfyUI API-format prompt graph: checkpoint (+ LoRA) -> KSampler -> SaveImage."""
    model_src, clip_src = ["4", 0], ["4", 1]
    graph: dict[str, Any] = {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
    }
    if lora:
        graph["10"] = {"class_type": "LoraLoader", "inputs": {
            "lora_name": lora, "strength_model": lora_strength, "strength_clip": lora_strength,
            "model": ["4", 0], "clip": ["4", 1]}}
        model_src, clip_src = ["10", 0], ["10", 1]
    graph["6"] = {"class_type": "CLIPTextEncode", "inputs": {"text": prompt, "clip": clip_src}}
    graph["7"] = {"class_type": "CLIPTextEncode", "inputs": {"text": negative, "clip": clip_src}}
    graph["5"] = {"class_type": "EmptyLatentImage",
                  "inputs": {"width": width, "height": height, "batch_size": 1}}
    graph["3"] = {"class_type": "KSampler", "inputs": {
        "seed": seed, "steps": steps, "cfg": cfg, "sampler_name": "euler",
        "scheduler": "normal", "denoise": 1.0, "model": model_src,
        "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]}}
    graph["8"] = {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}}
    graph["9"] = {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI",
                                                         "images": ["8", 0]}}
    return graph


def comfy_workflow(graph: dict[str, Any]) -> dict[str, Any]:
    """A small editor workflow (litegraph 0.4) mirroring ``graph``'s literal widgets."""
    nodes = []
    for node_id, node in graph.items():
        widgets = [v for v in node["inputs"].values() if not isinstance(v, list)]
        if node["class_type"] == "KSampler":
            widgets.insert(1, "fixed")
        nodes.append({"id": int(node_id), "type": node["class_type"], "mode": 0,
                      "widgets_values": widgets, "properties": {}})
    return {"last_node_id": max(int(k) for k in graph), "last_link_id": 0, "nodes": nodes,
            "links": [], "groups": [], "config": {}, "extra": {}, "version": 0.4}


def _pixels(seed: int, size: tuple[int, int]) -> Any:
    from PIL import Image

    data = model_bytes(seed, size[0] * size[1] * 3)
    return Image.frombytes("RGB", size, data)


def scene(seed: int, size: tuple[int, int] = (512, 512)) -> Any:
    """A varied picture (a Pillow image), not noise: a two-colour gradient at some
    angle, shapes, sometimes text, blur and grain; ``seed`` decides everything."""
    import random

    from PIL import Image, ImageDraw, ImageFilter

    r = random.Random(seed)
    w, h = size

    def colour() -> tuple[int, int, int]:
        return r.randrange(256), r.randrange(256), r.randrange(256)

    ramp = Image.linear_gradient("L").rotate(r.randrange(360)).resize(size)
    im = Image.composite(Image.new("RGB", size, colour()), Image.new("RGB", size, colour()), ramp)
    draw = ImageDraw.Draw(im)
    for _ in range(r.randrange(2, 12)):
        x0, y0 = r.randrange(w), r.randrange(h)
        box = (x0, y0, x0 + r.randrange(20, w // 2), y0 + r.randrange(20, h // 2))
        kind = r.randrange(4)
        if kind == 0:
            draw.ellipse(box, fill=colour())
        elif kind == 1:
            draw.rectangle(box, fill=colour())
        elif kind == 2:
            draw.polygon([(r.randrange(w), r.randrange(h)) for _ in range(r.randrange(3, 7))],
                         fill=colour())
        else:
            draw.line(box, fill=colour(), width=r.randrange(2, 30))
    if r.random() < 0.4:
        draw.text((r.randrange(w // 2), r.randrange(h // 2)),
                  "".join(r.choice("abcdefghij ") for _ in range(12)), fill=colour(),
                  font_size=r.randrange(20, 80))
    if r.random() < 0.5:
        im = im.filter(ImageFilter.GaussianBlur(r.uniform(0.5, 6)))
    if r.random() < 0.5:
        grain = Image.effect_noise(size, r.uniform(5, 60)).convert("RGB")
        im = Image.blend(im, grain, r.uniform(0.05, 0.4))
    return im


def write_comfy_png(path: Path, graph: dict[str, Any], *, pixel_seed: int,
                    size: tuple[int, int] = (64, 64), image: Any = None) -> Path:
    """A PNG as ComfyUI's SaveImage writes it: tEXt ``prompt`` and ``workflow``;
    the pixels are ``image`` (a Pillow image) or noise from ``pixel_seed``."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("prompt", json.dumps(graph))
    info.add_text("workflow", json.dumps(comfy_workflow(graph)))
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = image if image is not None else _pixels(pixel_seed, size)
    pixels.save(path, pnginfo=info, compress_level=4)
    return path


def a1111_parameters(*, prompt: str, negative: str, seed: int, model: str, model_hash: str,
                     lora: str | None = None, lora_weight: float = 0.8,
                     lora_hash: str | None = None, steps: int = 25, cfg: float = 6.5,
                     size: tuple[int, int] = (512, 768)) -> str:
    """An AUTOMATIC1111 infotext (the grammar of FORMATS.md §1.2)."""
    text = prompt + (f" <lora:{lora}:{lora_weight}>" if lora else "")
    params = [f"Steps: {steps}", "Sampler: DPM++ 2M", "Schedule type: Karras",
              f"CFG scale: {cfg:g}", f"Seed: {seed}", f"Size: {size[0]}x{size[1]}",
              f"Model hash: {model_hash}", f"Model: {model}"]
    if lora and lora_hash:
        params.append(f'Lora hashes: "{lora}: {lora_hash}"')
    params.append("Version: v1.10.1")
    return f"{text}\nNegative prompt: {negative}\n" + ", ".join(params)


def write_a1111_png(path: Path, parameters: str, *, pixel_seed: int,
                    size: tuple[int, int] = (64, 96)) -> Path:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("parameters", parameters)
    path.parent.mkdir(parents=True, exist_ok=True)
    _pixels(pixel_seed, size).save(path, pnginfo=info)
    return path


def set_mtime(path: Path, seconds_ago: float) -> None:
    """Date a file in the past (models older than the outputs made with them)."""
    import time

    t = time.time() - seconds_ago
    os.utime(path, (t, t))


# -- the scripted story ----------------------------------------------------------

from collections.abc import Callable, Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402


@dataclass
class Note:
    text: str


@dataclass
class Action:
    text: str
    run: Callable[[], None]


@dataclass
class Command:
    args: list[str]
    expect_failure: bool = False


Step = Note | Action | Command

CKPT = "dreamshaper_8.safetensors"
LORA = "client_style.safetensors"
PROMPT = "portrait of a lighthouse keeper, oil painting, (warm light:1.2)"


def demo_folder(directory: Path | None) -> Path:
    """Where the story runs: ``directory`` (created; it must be new or empty), or a
    new temporary folder."""
    if directory is None:
        import tempfile

        return Path(tempfile.mkdtemp(prefix="repro-demo-"))
    root = directory.resolve()
    if root.exists() and any(root.iterdir()):
        from repro.errors import ReproError

        raise ReproError(f"{root} is not empty", hint="give a new or empty folder")
    root.mkdir(parents=True, exist_ok=True)
    return root


def story(root: Path, *, comfyui: str | None = None,
          comfyui_root: Path | None = None) -> Iterator[Step]:
    """The seed story of repro, as steps a CLI can print and run; with a running
    ComfyUI (``comfyui`` URL and its folder ``comfyui_root``), it ends with a
    rerun, variations and an export made on that server."""
    models = root / "models"
    ckpt = models / "checkpoints" / CKPT
    lora = models / "loras" / LORA
    out = root / "outputs"

    def make_models() -> None:
        write_safetensors(ckpt, model_bytes(1, 3 * 1024 * 1024),
                          metadata={"modelspec.title": "DreamShaper 8"})
        write_safetensors(lora, model_bytes(2, 512 * 1024),
                          metadata={"ss_output_name": "client_style"})
        for p in (ckpt, lora):
            set_mtime(p, 21 * 86400)

    def generate_first() -> None:
        from repro.models.hashes import compute_hashes

        for n, (seed, strength) in enumerate([(1234, 0.8), (5678, 0.6)], 1):
            graph = comfy_graph(ckpt=CKPT, lora=LORA, lora_strength=strength, seed=seed,
                                prompt=PROMPT)
            write_comfy_png(out / f"ComfyUI_{n:05}_.png", graph, pixel_seed=seed)
        hashes = compute_hashes(ckpt, {"sha256"})
        lora_hashes = compute_hashes(lora, {"tensor_sha256"})
        text = a1111_parameters(prompt="a lighthouse at dusk, watercolor", negative="text",
                                seed=42, model="dreamshaper_8", model_hash=hashes["sha256"][:10],
                                lora="client_style", lora_hash=lora_hashes["tensor_sha256"][:12])
        write_a1111_png(out / "a1111" / "00001-42.png", text, pixel_seed=42)
        for p in out.rglob("*.png"):
            set_mtime(p, 20 * 86400)

    def update_checkpoint() -> None:
        write_safetensors(ckpt, model_bytes(3, 3 * 1024 * 1024),
                          metadata={"modelspec.title": "DreamShaper 8 (updated)"})

    def rename_lora() -> None:
        lora.rename(lora.with_name("client_style_v1.safetensors"))

    def generate_again() -> None:
        graph = comfy_graph(ckpt=CKPT, lora="client_style_v1.safetensors", lora_strength=0.8,
                            seed=999, prompt=PROMPT.replace("oil painting", "oil painting, storm"))
        write_comfy_png(out / "ComfyUI_00003_.png", graph, pixel_seed=999)

    yield Note(f"A project in {root}: a checkpoint and a LoRA, and three weeks ago, "
               "two ComfyUI images and one AUTOMATIC1111 image made with them.")
    yield Action(f"make models/checkpoints/{CKPT} and models/loras/{LORA}", make_models)
    yield Action("generate outputs/ComfyUI_00001_.png (seed 1234, LoRA 0.8), "
                 "ComfyUI_00002_.png (seed 5678, LoRA 0.6), a1111/00001-42.png", generate_first)
    yield Command(["init"])
    yield Command(["add", "outputs"])
    yield Command(["log", "-n", "3"])
    yield Note("Today: the checkpoint was updated under the same name, and a folder "
               "clean-up renamed the LoRA.")
    yield Action(f"overwrite models/checkpoints/{CKPT} with a new version", update_checkpoint)
    yield Action(f"mv models/loras/{LORA} models/loras/client_style_v1.safetensors", rename_lora)
    yield Action("generate outputs/ComfyUI_00003_.png with today's files (seed 999)",
                 generate_again)
    yield Command(["add", "outputs/ComfyUI_00003_.png"])
    yield Note("Can the first image still be made? verify explains both changes.")
    yield Command(["verify", "outputs/ComfyUI_00001_.png"], expect_failure=True)
    yield Note("checkout refuses to overwrite the new checkpoint without --force ...")
    yield Command(["checkout", "outputs/ComfyUI_00001_.png"], expect_failure=True)
    yield Note("... and with --force it stores the new version first, so nothing is lost.")
    yield Command(["checkout", "outputs/ComfyUI_00001_.png", "--force"])
    yield Command(["verify", "outputs/ComfyUI_00001_.png"])
    yield Note("What differs between two images made the same day?")
    yield Command(["diff", "outputs/ComfyUI_00001_.png", "outputs/ComfyUI_00002_.png"])
    yield Note("And between three weeks ago and today?")
    yield Command(["diff", "outputs/ComfyUI_00001_.png", "outputs/ComfyUI_00003_.png"])
    yield Command(["inspect", "outputs/a1111/00001-42.png"])
    yield Command(["models"])
    if comfyui is not None and comfyui_root is not None:
        yield from server_story(root, comfyui, comfyui_root)


def seeded_graph(seed: int, prefix: str) -> dict[str, Any]:
    """LoadImage -> ImageAddNoise(seed) -> ImageScale -> SaveImage: core nodes only,
    so that any ComfyUI runs it without a model."""
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": "repro_demo_input.png"}},
        "2": {"class_type": "ImageAddNoise",
              "inputs": {"image": ["1", 0], "seed": seed, "strength": 0.3}},
        "3": {"class_type": "ImageScale",
              "inputs": {"image": ["2", 0], "upscale_method": "bilinear", "width": 96,
                         "height": 96, "crop": "disabled"}},
        "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0],
                                                     "filename_prefix": prefix}},
    }


def server_story(root: Path, url: str, comfy_root: Path) -> Iterator[Step]:
    """Regenerate on purpose: a job on a real server, re-run and varied."""
    made: list[Path] = []

    def configure() -> None:
        with open(root / ".reprorc", "a") as f:
            f.write(f'\n[comfyui]\nroot = "{comfy_root}"\nurl = "{url}"\n')
        _pixels(7, (48, 48)).save(comfy_root / "input" / "repro_demo_input.png")

    def generate() -> None:
        from repro.comfyui.client import ComfyClient
        from repro.comfyui.history import saved_outputs
        from repro.comfyui.submit import Runner

        runner = Runner(ComfyClient(url, timeout=30.0), client_id="repro-demo")
        graph = seeded_graph(1234, f"repro-demo-{os.getpid()}/noisy")
        done = runner.wait(runner.submit(graph, {"extra_pnginfo": {
            "workflow": comfy_workflow(graph)}}))
        [out] = [o for o in saved_outputs(done.entry) if o.type == "output"]
        link = root / "outputs" / "server.png"
        link.write_bytes((comfy_root / "output" / out.rel).read_bytes())
        made.append(link)

    yield Note(f"A ComfyUI server answers at {url}: regenerate on purpose.")
    yield Action(f"point .reprorc at {url}, put an input image in its input folder",
                 configure)
    yield Action("queue a seeded job (LoadImage -> ImageAddNoise -> ImageScale -> "
                 "SaveImage) and copy its output to outputs/server.png", generate)
    yield Command(["add", "outputs/server.png"])
    yield Note("Run it again and compare the pixels; the receipt is kept.")
    yield Command(["rerun", "outputs/server.png"])
    yield Command(["verify", "outputs/server.png"])
    yield Note("Three variations, one parameter at a time, linked to the original.")
    yield Command(["vary", "outputs/server.png", "--seed", "1..3", "--sheet", "sheet.html"])
    yield Command(["variations", "outputs/server.png"])
    yield Command(["export", "outputs/server.png", "--format", "api"])

