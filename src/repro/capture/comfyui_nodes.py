"""What ComfyUI node classes mean: loaders, samplers, file kinds.

Facts shared by the prompt-graph reader (``comfyui``) and the editor-workflow
reader (``comfyui_workflow``). Sources: FORMATS.md §1.1 (core ``nodes.py``,
``comfy_extras``, city96/ComfyUI-GGUF).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any, TypeGuard

from repro.record.vocabulary import CONFIG_EXTENSIONS, MODEL_EXTENSIONS

#: A prompt or workflow with more nodes than this is refused (real graphs have hundreds).
MAX_NODES = 50_000

#: Longest chain of links followed to reach one literal value.
MAX_HOPS = 256

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")

#: class_type -> input name -> (role, ComfyUI model folder).
LOADERS: dict[str, dict[str, tuple[str, str]]] = {
    "CheckpointLoaderSimple": {"ckpt_name": ("checkpoint", "checkpoints")},
    "CheckpointLoader": {"config_name": ("config", "configs"),
                         "ckpt_name": ("checkpoint", "checkpoints")},
    "unCLIPCheckpointLoader": {"ckpt_name": ("checkpoint", "checkpoints")},
    "ImageOnlyCheckpointLoader": {"ckpt_name": ("checkpoint", "checkpoints")},
    "DiffusersLoader": {"model_path": ("checkpoint", "diffusers")},
    "UNETLoader": {"unet_name": ("unet", "diffusion_models")},
    "VAELoader": {"vae_name": ("vae", "vae")},
    "LoraLoader": {"lora_name": ("lora", "loras")},
    "LoraLoaderModelOnly": {"lora_name": ("lora", "loras")},
    "CLIPLoader": {"clip_name": ("text_encoder", "text_encoders")},
    "DualCLIPLoader": {f"clip_name{i}": ("text_encoder", "text_encoders") for i in (1, 2)},
    "TripleCLIPLoader": {f"clip_name{i}": ("text_encoder", "text_encoders") for i in (1, 2, 3)},
    "QuadrupleCLIPLoader": {f"clip_name{i}": ("text_encoder", "text_encoders")
                            for i in (1, 2, 3, 4)},
    "CLIPVisionLoader": {"clip_name": ("clip_vision", "clip_vision")},
    "ControlNetLoader": {"control_net_name": ("controlnet", "controlnet")},
    "DiffControlNetLoader": {"control_net_name": ("controlnet", "controlnet")},
    "StyleModelLoader": {"style_model_name": ("style_model", "style_models")},
    "GLIGENLoader": {"gligen_name": ("other", "gligen")},
    "UpscaleModelLoader": {"model_name": ("upscaler", "upscale_models")},
    "HypernetworkLoader": {"hypernetwork_name": ("hypernetwork", "hypernetworks")},
    "PhotoMakerLoader": {"photomaker_model_name": ("other", "photomaker")},
    "UnetLoaderGGUF": {"unet_name": ("unet", "unet")},
    "CLIPLoaderGGUF": {"clip_name": ("text_encoder", "clip")},
    "DualCLIPLoaderGGUF": {f"clip_name{i}": ("text_encoder", "clip") for i in (1, 2)},
    "TripleCLIPLoaderGGUF": {f"clip_name{i}": ("text_encoder", "clip") for i in (1, 2, 3)},
    "QuadrupleCLIPLoaderGGUF": {f"clip_name{i}": ("text_encoder", "clip") for i in (1, 2, 3, 4)},
    "IPAdapterModelLoader": {"ipadapter_file": ("ip_adapter", "ipadapter")},
}

#: Samplers whose inputs we know; custom ones are recognised by name and a seed input.
KNOWN_SAMPLERS = frozenset({"KSampler", "KSamplerAdvanced", "SamplerCustom",
                            "SamplerCustomAdvanced"})

SEED_INPUTS = ("seed", "noise_seed")

#: Sigma-schedule nodes that name their schedule by class rather than by an input.
SCHEDULER_CLASSES = {
    "KarrasScheduler": "karras",
    "ExponentialScheduler": "exponential",
    "PolyexponentialScheduler": "polyexponential",
    "SDTurboScheduler": "sd_turbo",
    "AlignYourStepsScheduler": "align_your_steps",
    "BetaSamplingScheduler": "beta",
    "LaplaceScheduler": "laplace",
    "VPScheduler": "vp",
    "GITSScheduler": "gits",
}

#: SAMPLER-producing nodes that name their algorithm by class rather than ``sampler_name``.
SAMPLER_CLASSES = {
    "SamplerEulerAncestral": "euler_ancestral",
    "SamplerEulerAncestralCFGPP": "euler_ancestral_cfg_pp",
    "SamplerLMS": "lms",
    "SamplerDPMPP_2M_SDE": "dpmpp_2m_sde",
    "SamplerDPMPP_3M_SDE": "dpmpp_3m_sde",
    "SamplerDPMPP_SDE": "dpmpp_sde",
    "SamplerDPMPP_2S_Ancestral": "dpmpp_2s_ancestral",
}

#: Output nodes by exact class; any class containing "Save" counts too.
OUTPUT_CLASSES = frozenset({"SaveImage", "SaveAnimatedWEBP", "SaveAnimatedPNG", "PreviewImage"})

#: Where each role's files live in a ComfyUI models folder, for workflow ``models`` entries.
FOLDER_ROLES = {
    "checkpoints": "checkpoint", "loras": "lora", "vae": "vae", "vae_approx": "vae",
    "text_encoders": "text_encoder", "clip": "text_encoder", "diffusion_models": "unet",
    "unet": "unet", "controlnet": "controlnet", "t2i_adapter": "controlnet",
    "upscale_models": "upscaler", "clip_vision": "clip_vision", "style_models": "style_model",
    "embeddings": "embedding", "hypernetworks": "hypernetwork", "ipadapter": "ip_adapter",
    "configs": "config",
}

#: Folder names that are aliases of each other in ComfyUI's folder_paths.
FOLDER_ALIASES = {"unet": "diffusion_models", "clip": "text_encoders"}

#: Substrings of an input or class name -> role, first match wins.
_ROLE_HINTS = (
    ("lora", "lora"), ("lycoris", "lora"), ("hypernetwork", "hypernetwork"),
    ("embedding", "embedding"), ("ipadapter", "ip_adapter"), ("ip_adapter", "ip_adapter"),
    ("clip_vision", "clip_vision"), ("clipvision", "clip_vision"),
    ("controlnet", "controlnet"), ("control_net", "controlnet"), ("control", "controlnet"),
    ("upscale", "upscaler"), ("esrgan", "upscaler"), ("style_model", "style_model"),
    ("vae", "vae"), ("unet", "unet"), ("diffusion", "unet"),
    ("text_encoder", "text_encoder"), ("clip", "text_encoder"), ("t5", "text_encoder"),
    ("ckpt", "checkpoint"), ("checkpoint", "checkpoint"),
)

# ComfyUI's tokenizer splits prompt words on spaces and strips commas; weights
# come from the surrounding "(word:1.2)" or a trailing ":1.2".
_EMBEDDING = re.compile(
    r"embedding:([^\s,()\[\]{}<>|:]+)(?::(-?\d+(?:\.\d+)?))?", re.IGNORECASE)

# LoadImage names may carry an annotation such as "photo.png [output]".
_ANNOTATION = re.compile(r"\s*\[(?:input|output|temp)\]$")


def is_link(value: Any) -> bool:
    """True for a prompt-graph link ``["<node id>", <slot>]``."""
    return (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str | int)
            and not isinstance(value[0], bool)
            and isinstance(value[1], int) and not isinstance(value[1], bool))


def is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_str(value: Any) -> TypeGuard[str]:
    return isinstance(value, str)


def has_model_extension(name: str) -> bool:
    return name.lower().endswith(MODEL_EXTENSIONS)


def has_config_extension(name: str) -> bool:
    return name.lower().endswith(CONFIG_EXTENSIONS)


def has_image_extension(name: str) -> bool:
    return _ANNOTATION.sub("", name).lower().endswith(IMAGE_EXTENSIONS)


def guess_role(input_name: str, class_type: str) -> str:
    """The model role an unknown loader's input most likely names, else ``other``."""
    for text in (input_name.lower(), class_type.lower()):
        for hint, role in _ROLE_HINTS:
            if hint in text:
                return role
    return "other"


def is_output_class(class_type: str) -> bool:
    return class_type in OUTPUT_CLASSES or "Save" in class_type


def is_sampler_class(class_type: str, input_names: Collection[str]) -> bool:
    """True for a node that draws noise and denoises (core or custom)."""
    if class_type in KNOWN_SAMPLERS:
        return True
    for name in input_names:  # most nodes have no seed: say so without building a set
        if name[:1] in "sSnN" and name.lower() in SEED_INPUTS:
            break
    else:
        return False
    names = {name.lower() for name in input_names if name[:1] in "sSnN"}
    # Detailers and tiled upscalers (FaceDetailer, UltimateSDUpscale...) sample too.
    return ("KSampler" in class_type or "Sampler" in class_type
            or ("steps" in names and bool(names & {"sampler_name", "sampler"})))


def find_embeddings(text: str) -> list[tuple[str, float | None]]:
    """``embedding:NAME[.ext][:weight]`` references in prompt text, in order."""
    found: list[tuple[str, float | None]] = []
    for match in _EMBEDDING.finditer(text):
        name = match.group(1)
        weight = float(match.group(2)) if match.group(2) is not None else None
        found.append((name, weight))
    return found


def node_id_key(node_id: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key for node ids: numeric where they are (``"9" < "10"``, ``"12:5"``)."""
    parts = []
    for part in node_id.split(":"):
        # isascii: str.isdigit() is also true for '²' and other digits int() refuses.
        if part.isascii() and part.isdigit():
            parts.append((0, int(part), ""))
        else:
            parts.append((1, 0, part))
    return tuple(parts)


def same_folder(a: str | None, b: str | None) -> bool:
    """Whether two ComfyUI folder names are the same folder (or one is unknown)."""
    if a is None or b is None:
        return True
    return FOLDER_ALIASES.get(a, a) == FOLDER_ALIASES.get(b, b)
