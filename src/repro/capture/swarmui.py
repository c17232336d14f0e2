"""SwarmUI: ``{"sui_image_params": {...}, "sui_extra_data": {...}, "sui_models": [...]}``."""

from __future__ import annotations

from typing import Any

from repro.capture.common import find_model, put_known, rate_flat, to_float
from repro.capture.types import Generation, ModelRef
from repro.errors import InputError
from repro.record.hashes import normalise_hash

#: SwarmUI parameter -> repro parameter.
_CANONICAL = {
    "prompt": "prompt", "negativeprompt": "negative_prompt", "seed": "seed", "steps": "steps",
    "cfgscale": "cfg", "width": "width", "height": "height", "sampler": "sampler",
    "scheduler": "scheduler", "clipstopatlayer": "clip_skip", "initimagecreativity": "denoise",
}
_MODEL_KEYS = {"model", "vae", "loras", "loraweights", "swarm_version"}


def swarm_from_dict(data: dict[str, Any]) -> Generation:
    """Normalise a SwarmUI metadata dict (values may be strings, e.g. ``"1.0"``)."""
    params = data.get("sui_image_params")
    if not isinstance(params, dict):
        raise InputError("SwarmUI metadata has no sui_image_params object")
    gen = Generation(tool="swarmui", metadata="execution")
    version = params.get("swarm_version")
    gen.tool_version = str(version) if version is not None else None
    extra: dict[str, Any] = {}
    for key, value in params.items():
        if put_known(gen.params, _CANONICAL, key, value):
            continue
        if key not in _MODEL_KEYS:
            extra[key] = value
    if isinstance(data.get("sui_extra_data"), dict):
        extra["sui_extra_data"] = data["sui_extra_data"]
    if extra:
        gen.params["extra"] = extra
    model = params.get("model")
    if isinstance(model, str) and model:
        gen.models.append(ModelRef(role="checkpoint", name=model))
    vae = params.get("vae")
    if isinstance(vae, str) and vae and vae.lower() not in ("none", "automatic"):
        gen.models.append(ModelRef(role="vae", name=vae))
    loras = params.get("loras")
    weights = params.get("loraweights")
    if isinstance(loras, str):
        loras = [s.strip() for s in loras.split(",") if s.strip()]
    if isinstance(weights, str):
        weights = [s.strip() for s in weights.split(",")]
    if isinstance(loras, list):
        for i, name in enumerate(loras):
            if isinstance(name, str):
                weight = weights[i] if isinstance(weights, list) and i < len(weights) else None
                gen.models.append(ModelRef(role="lora", name=name, strength=to_float(weight)))
    _merge_hashes(gen, data.get("sui_models"))
    rate_flat(gen)
    return gen


def _merge_hashes(gen: Generation, entries: Any) -> None:
    # sui_models[].hash is the tensor-data SHA-256 ("0x" + 64 hex) of the file.
    if not isinstance(entries, list):
        return
    roles = {"model": "checkpoint", "loras": "lora", "vae": "vae"}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        digest = normalise_hash(entry.get("hash"))
        role = roles.get(str(entry.get("param")), "other")
        ref = find_model(gen.models, role, entry["name"])
        if ref is None:
            ref = ModelRef(role=role, name=entry["name"])
            gen.models.append(ref)
        if digest:
            ref.hashes.setdefault("tensor_sha256", digest)


def merge_into_comfy(comfy: Generation, swarm: Generation) -> None:
    """A file carrying both a ComfyUI graph and SwarmUI's JSON (FORMATS.md R2.5).

    The graph stays the record of what ran (samplers, prompts, models by node);
    Swarm gives what only it knows: its name and version, the model hashes it
    recorded, and the final size after its refiner upscale. Facts the graph
    lacks are taken from Swarm.
    """
    comfy.tool, comfy.tool_version = "swarmui", swarm.tool_version
    for model in swarm.models:
        target = None
        if model.name:
            target = find_model(comfy.models, model.role, model.name) or find_model(
                comfy.models, None, model.name)
        if target is None and model.role == "checkpoint":
            mains = [m for m in comfy.models if m.role in ("checkpoint", "unet")]
            target = mains[0] if len(mains) == 1 else None
        if target is None:
            comfy.models.append(model)
            continue
        for key, value in model.hashes.items():
            target.hashes.setdefault(key, value)
    params, theirs = comfy.params, swarm.params
    for key in ("prompt", "negative_prompt", "seed", "steps", "cfg", "sampler", "scheduler"):
        if key in theirs:
            params.setdefault(key, theirs[key])
    extra: dict[str, Any] = theirs["extra"] if isinstance(theirs.get("extra"), dict) else {}
    if isinstance(theirs.get("width"), int) and isinstance(theirs.get("height"), int):
        width, height = theirs["width"], theirs["height"]
        upscale = to_float(extra.get("refinerupscale"))
        if upscale is not None and upscale > 1:
            width, height = round(width * upscale), round(height * upscale)
        params["width"], params["height"] = width, height
    if extra:
        params.setdefault("extra", {})["swarmui"] = extra
