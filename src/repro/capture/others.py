"""Easy Diffusion, Draw Things, Midjourney-style text and C2PA provenance."""

from __future__ import annotations

import re
from typing import Any

from repro import jsonsafe
from repro.capture.common import convert, parse_size, put, put_known, rate_flat, take, to_float
from repro.capture.types import Generation, ModelRef
from repro.capture.xmp import xmp_field
from repro.errors import InputError

# --- Easy Diffusion ----------------------------------------------------------

#: Easy Diffusion field -> parameter; snake_case and Title-case variants.
_ED_FIELDS = {
    "prompt": "prompt", "Prompt": "prompt",
    "negative_prompt": "negative_prompt", "Negative Prompt": "negative_prompt",
    "seed": "seed", "Seed": "seed", "num_inference_steps": "steps", "Steps": "steps",
    "guidance_scale": "cfg", "Guidance Scale": "cfg", "sampler_name": "sampler", "Sampler": "sampler",
    "width": "width", "Width": "width", "height": "height", "Height": "height",
    "clip_skip": "clip_skip", "Clip Skip": "clip_skip",
    "prompt_strength": "denoise", "Prompt Strength": "denoise",
}
#: Easy Diffusion field -> the role of the model file it names (easydiffusion/utils/
#: save_utils.py ``TASK_TEXT_MAPPING``; face correction and upscaling name a model too:
#: ``GFPGANv1.4``, ``RealESRGAN_x4plus``).
_ED_MODELS = {
    "use_stable_diffusion_model": "checkpoint", "Stable Diffusion model": "checkpoint",
    "use_vae_model": "vae", "VAE model": "vae",
    "use_lora_model": "lora", "LoRA model": "lora",
    "use_hypernetwork_model": "hypernetwork", "Hypernetwork model": "hypernetwork",
    "use_controlnet_model": "controlnet", "ControlNet model": "controlnet",
    "use_face_correction": "face_restorer", "Use Face Correction": "face_restorer",
    "use_upscale": "upscaler", "Use Upscaling": "upscaler",
}
#: Easy Diffusion's embeddings field: a list of names in its JSON.
_ED_EMBEDDINGS = ("use_embedding_models", "Embedding models")
#: Values that mean the field is off.
_ED_OFF = frozenset({"", "none", "false", "null"})
#: Keys that mark a set of fields as Easy Diffusion's.
ED_MARKERS = frozenset({"use_stable_diffusion_model", "Stable Diffusion model",
                        "num_inference_steps", "sampler_name", "guidance_scale"})


def looks_like_easydiffusion(fields: dict[str, Any]) -> bool:
    """True when the fields carry Easy Diffusion's keys."""
    return bool(ED_MARKERS & fields.keys())


def parse_easydiffusion(fields: dict[str, Any]) -> Generation:
    """Normalise Easy Diffusion fields (PNG text per field or one JSON object)."""
    gen = Generation(tool="unknown", metadata="execution")
    extra: dict[str, Any] = {}
    for key, value in fields.items():
        if key in _ED_MODELS:
            if isinstance(value, str) and value.strip().lower() not in _ED_OFF:
                strength = None
                if _ED_MODELS[key] == "lora":
                    strength = to_float(fields.get("lora_alpha", fields.get("LoRA Strength")))
                gen.models.append(ModelRef(role=_ED_MODELS[key], name=value, strength=strength))
            continue
        if key in _ED_EMBEDDINGS and value:
            names = value if isinstance(value, list) else None
            if names is None or not all(isinstance(n, str) for n in names):
                gen.reasons.append(f"Easy Diffusion names embeddings under {key!r} in a form "
                                   "repro does not read, so not every model used is known")
                extra[key] = value
                continue
            gen.models.extend(ModelRef(role="embedding", name=n) for n in names if n.strip())
            continue
        if not put_known(gen.params, _ED_FIELDS, key, value):
            extra[key] = value
    extra["generator"] = "Easy Diffusion"
    gen.params["extra"] = extra
    rate_flat(gen)
    return gen


# --- Draw Things ------------------------------------------------------------

def is_drawthings(xmp: str) -> bool:
    """True for an XMP packet whose CreatorTool is Draw Things."""
    tool = xmp_field(xmp, "xmp:CreatorTool")
    return bool(tool and "draw things" in tool.lower())


def parse_drawthings(xmp: str) -> Generation:
    """Draw Things: JSON in the XMP ``exif:UserComment``, else the ``dc:description`` text."""
    gen = Generation(tool="drawthings", metadata="execution")
    raw = xmp_field(xmp, "exif:UserComment")
    data: Any = None
    if raw and raw.lstrip().startswith("{"):
        data = jsonsafe.loads(raw, what="Draw Things UserComment")
    if isinstance(data, dict):
        p = gen.params
        used = take(p, data, {"prompt": "c", "negative_prompt": "uc", "sampler": "sampler",
                              "seed": "seed", "steps": "steps", "cfg": "scale",
                              "denoise": "strength"})
        if size := parse_size(data.get("size")):
            p["width"], p["height"] = size
        used |= {"size", "model", "lora"}
        extra = {k: v for k, v in data.items() if k not in used}
        if extra:
            p["extra"] = extra
        if isinstance(data.get("model"), str):
            gen.models.append(ModelRef(role="checkpoint", name=data["model"]))
        for lora in data.get("lora") or []:
            if isinstance(lora, dict) and isinstance(lora.get("model", lora.get("file")), str):
                gen.models.append(ModelRef(role="lora", name=lora.get("model", lora.get("file")),
                                           strength=to_float(lora.get("weight"))))
    else:
        description = xmp_field(xmp, "dc:description")
        if not description:
            raise InputError("Draw Things XMP has neither UserComment JSON nor a description")
        _drawthings_text(gen, description)
    version = xmp_field(xmp, "xmp:CreatorTool") or ""
    gen.tool_version = version.replace("Draw Things", "").strip() or None
    rate_flat(gen)
    return gen


def _drawthings_text(gen: Generation, text: str) -> None:
    # Draw Things writes no newline before "Steps:", so split there.
    from repro.capture.a1111 import split_infotext  # detect imports this module for its tests

    at = text.find("Steps:")
    head, tail = (text[:at], text[at:]) if at >= 0 else (text, "")
    info = split_infotext(head.rstrip() + "\n" + tail) if tail else split_infotext(head)
    gen.params["prompt"] = info.prompt
    put(gen.params, "negative_prompt", info.negative_prompt)
    pairs = dict(info.pairs)
    for key, name in (("Seed", "seed"), ("Steps", "steps"), ("Guidance Scale", "cfg"),
                      ("Sampler", "sampler"), ("Strength", "denoise")):
        if key in pairs:
            put(gen.params, name, convert(name, pairs.pop(key)))
    if size := parse_size(pairs.pop("Size", None)):
        gen.params["width"], gen.params["height"] = size
    if isinstance(pairs.get("Model"), str):
        gen.models.append(ModelRef(role="checkpoint", name=pairs["Model"]))
    if pairs:
        gen.params["extra"] = pairs


# --- Midjourney -------------------------------------------------------------

#: Compiled at first use (``re``'s cache), not when ``detect`` imports this module.
_MJ_FLAG = (r"(?:^|\s)--(v|ar|niji|style|stylize|s|chaos|c|q|quality|seed|weird)"
            r"(?:\s+([^\s-][^\s]*))?")


_MJ_MARK = r"(?:^|\s)--(?:v|ar|niji)(?:\s|$)"


def looks_like_midjourney(text: str) -> bool:
    """True for description text carrying Midjourney parameters (``--v``, ``--ar``, ``--niji``).
    The pattern is tried only on text with a ``--`` (a saver's 60 KB graph in a
    description field took the pattern 0.7 ms)."""
    return "--" in text and re.search(_MJ_MARK, text) is not None


def parse_midjourney(text: str) -> Generation:
    """Midjourney-style description: the prompt and flags as provenance, never reproducible."""
    gen = Generation(tool="midjourney", metadata="provenance-only", level="none")
    gen.params["prompt"] = text.strip()
    flags = {m[0]: m[1] or True for m in re.findall(_MJ_FLAG, text)}
    if flags:
        gen.params["extra"] = {"flags": flags}
    gen.reasons.append("Midjourney is a closed service: its model and sampling cannot be "
                       "re-run, the text only records the prompt")
    return gen


# --- C2PA -------------------------------------------------------------------

def parse_c2pa(jumbf: bytes) -> Generation:
    """C2PA manifest: provenance facts only, level none."""
    from repro.capture import c2pa

    facts = c2pa.provenance(jumbf)
    gen = Generation(tool=c2pa.tool_of(facts), metadata="provenance-only", level="none")
    gen.provenance["c2pa"] = {k: facts.get(k) for k in ("claim_generator", "actions",
                                                        "digital_source_type", "manifest")}
    generator = facts.get("claim_generator") or "an unnamed generator"
    gen.reasons.append(f"only a C2PA provenance manifest is present (claim generator: "
                       f"{generator}); it records who made the image, not how")
    return gen
