"""Model roots and where a named model is expected to live.

A root may use the ComfyUI layout (``checkpoints/ loras/ vae/ ...``) or the
A1111 one (``Stable-diffusion/ Lora/ VAE/ ...``); both are tried. A name never
leaves its root through ``..``; a root is walked by ``repro.objects.walk``'s
policy (no hidden folders, no symlinked folders, 12 folders deep at most), so a
folder linked in from elsewhere is searched by content only when it is a root
of its own (found by name, it is used wherever it lives).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath

from repro.errors import UnsafePath
from repro.objects.walk import iter_files
from repro.record.vocabulary import CONFIG_EXTENSIONS, MODEL_EXTENSIONS

#: What a model root holds: model files, configs, and pickles (old upscalers).
MODEL_EXTS = (*MODEL_EXTENSIONS, *CONFIG_EXTENSIONS, ".pkl")

#: ComfyUI folder name -> folder names tried under a root (ComfyUI first, then A1111).
FOLDERS: dict[str, tuple[str, ...]] = {
    "checkpoints": ("checkpoints", "Stable-diffusion"),
    "loras": ("loras", "Lora", "LyCORIS"),
    "vae": ("vae", "VAE"),
    "vae_approx": ("vae_approx", "VAE-approx"),
    "controlnet": ("controlnet", "ControlNet"),
    "upscale_models": ("upscale_models", "ESRGAN", "RealESRGAN", "SwinIR", "DAT"),
    "embeddings": ("embeddings",),
    "hypernetworks": ("hypernetworks",),
    "clip": ("clip", "text_encoders"),
    "text_encoders": ("text_encoders", "clip"),
    "unet": ("unet", "diffusion_models"),
    "diffusion_models": ("diffusion_models", "unet"),
    "clip_vision": ("clip_vision",),
    "style_models": ("style_models",),
    "gligen": ("gligen",),
    "configs": ("configs",),
    "ipadapter": ("ipadapter",),
    "unet_gguf": ("unet", "diffusion_models"),
    "clip_gguf": ("clip", "text_encoders"),
}

#: Record role -> ComfyUI folder name.
ROLE_FOLDER = {
    "checkpoint": "checkpoints", "unet": "unet", "vae": "vae", "text_encoder": "text_encoders",
    "lora": "loras", "hypernetwork": "hypernetworks", "embedding": "embeddings",
    "controlnet": "controlnet", "upscaler": "upscale_models", "clip_vision": "clip_vision",
    "ip_adapter": "ipadapter", "style_model": "style_models", "config": "configs",
}


def safe_relative(name: str) -> PurePosixPath:
    """A recorded relative name as a path that cannot climb out of its folder."""
    clean = name.replace("\\", "/")
    p = PurePosixPath(clean)
    if p.is_absolute() or clean.startswith("/") or ".." in p.parts or (
            len(clean) > 1 and clean[1] == ":"):
        raise UnsafePath(f"refusing model name {name!r}: it leaves its folder")
    return p


def candidate_paths(roots: Iterable[Path], name: str, *, folder: str | None,
                    role: str | None) -> Iterator[Path]:
    """Where a model called ``name`` would be under the roots, most likely first."""
    try:
        rel = safe_relative(name)
    except UnsafePath:
        return
    names = [rel]
    if rel.suffix.lower() not in MODEL_EXTS:
        names += [rel.with_name(rel.name + ext) for ext in MODEL_EXTS]
    folder = folder or (ROLE_FOLDER.get(role) if role else None)
    subdirs = FOLDERS.get(folder, (folder,)) if folder else ()
    for root in roots:
        for sub in subdirs:
            for n in names:
                yield root / sub / n
        for n in names:
            yield root / n


def iter_model_files(roots: Iterable[Path]) -> Iterator[tuple[Path, os.stat_result]]:
    """Every model file under the roots, once (a file reached by two paths or
    under two roots is given once), walked by ``repro.objects.walk``'s policy."""
    seen: set[tuple[int, int]] = set()
    for root in roots:
        for path, st in iter_files(root):
            key = (st.st_dev, st.st_ino)
            if path.name.lower().endswith(MODEL_EXTS) and key not in seen:
                seen.add(key)
                yield path, st
