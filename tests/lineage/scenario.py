"""The lineage scenario, built from the test's own images: generate, img2img from
it, upscale that, change a LoRA's strength, re-run with two seeds."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repro.demo import comfy_graph, model_bytes, set_mtime, write_comfy_png, write_safetensors
from tests.helpers import img2img_graph

PROMPT = "a lighthouse keeper, oil painting, (warm light:1.2)"
CKPT = "base.safetensors"
LORA = "style.safetensors"
UPSCALER = "4x_ultra.safetensors"


@dataclass
class Scenario:
    root: Path
    base: Path
    img2img: Path
    upscaled: Path
    strength: Path
    seed_a: Path
    seed_b: Path
    lora: Path

    @property
    def outputs(self) -> list[Path]:
        return [self.base, self.img2img, self.upscaled, self.strength, self.seed_a, self.seed_b]


def upscale_graph(image: str, model: str = UPSCALER) -> dict[str, Any]:
    """LoadImage -> ImageUpscaleWithModel -> SaveImage, as ComfyUI's API format writes it."""
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": image}},
        "2": {"class_type": "UpscaleModelLoader", "inputs": {"model_name": model}},
        "3": {"class_type": "ImageUpscaleWithModel",
              "inputs": {"upscale_model": ["2", 0], "image": ["1", 0]}},
        "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "up", "images": ["3", 0]}},
    }


def write_models(root: Path) -> Path:
    models = root / "models"
    files = [write_safetensors(models / "checkpoints" / CKPT, model_bytes(1, 200_000)),
             write_safetensors(models / "loras" / LORA, model_bytes(2, 40_000)),
             write_safetensors(models / "upscale_models" / UPSCALER, model_bytes(3, 30_000))]
    for f in files:
        set_mtime(f, 7200)
    return files[1]


def generate(root: Path, name: str, graph: dict[str, Any], pixel_seed: int) -> Path:
    path = write_comfy_png(root / "outputs" / name, graph, pixel_seed=pixel_seed)
    set_mtime(path, 3600)
    return path


def to_input(root: Path, output: Path, input_dir: Path | None = None) -> None:
    """Copy an output into ComfyUI's input folder, as dragging it into LoadImage does,
    dated before the outputs made from it (``generate`` dates them an hour back)."""
    folder = input_dir or root / "input"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(output, folder / output.name)
    set_mtime(folder / output.name, 7200)


def build(root: Path) -> Scenario:
    lora = write_models(root)

    def txt2img(seed: int, strength: float = 0.8) -> dict[str, Any]:
        return comfy_graph(ckpt=CKPT, lora=LORA, lora_strength=strength, seed=seed,
                           prompt=PROMPT)

    base = generate(root, "base.png", txt2img(1000), 1)
    to_input(root, base)
    img2img = generate(root, "img2img.png", img2img_graph(
        ckpt=CKPT, lora=LORA, lora_strength=0.8, seed=2000, prompt=PROMPT,
        load_image="base.png", denoise=0.6), 2)
    to_input(root, img2img)
    upscaled = generate(root, "upscaled.png", upscale_graph("img2img.png"), 3)
    strength = generate(root, "strength.png", txt2img(1000, strength=0.5), 4)
    seed_a = generate(root, "seed_a.png", txt2img(1001), 5)
    seed_b = generate(root, "seed_b.png", txt2img(1002), 6)
    return Scenario(root, base, img2img, upscaled, strength, seed_a, seed_b, lora)
