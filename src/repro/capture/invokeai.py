"""InvokeAI: 1.x ``Dream`` command line, 2.x ``sd-metadata``, 3.x+ ``invokeai_metadata``."""

from __future__ import annotations

import re
import shlex
from typing import Any

from repro import jsonsafe
from repro.capture.common import convert, put, rate_flat, take, to_float
from repro.capture.types import Generation, InputRef, ModelRef
from repro.errors import InputError
from repro.record.hashes import normalise_hash

_NEGATIVE_RE = re.compile(r"\[([^\[\]]*)\]")
#: Dream flag -> parameter.
_DREAM_FLAGS = {
    "-s": "steps", "--steps": "steps", "-S": "seed", "--seed": "seed",
    "-W": "width", "--width": "width", "-H": "height", "--height": "height",
    "-C": "cfg", "--cfg_scale": "cfg", "-A": "sampler", "--sampler": "sampler",
    "-f": "denoise", "--strength": "denoise",
}


def _split_negative(text: str) -> tuple[str, str | None]:
    """InvokeAI 1.x/2.x put the negative prompt in ``[...]`` spans of the prompt."""
    spans = _NEGATIVE_RE.findall(text)
    if not spans:
        return text.strip(), None
    positive = _NEGATIVE_RE.sub("", text)
    return " ".join(positive.split()), ", ".join(s.strip() for s in spans)


def parse_dream(text: str) -> Generation:
    """InvokeAI 1.x ``Dream``: ``"prompt [negative]" -s 50 -S 42 -W 512 ...``."""
    gen = Generation(tool="invokeai", metadata="execution")
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise InputError(f"InvokeAI Dream line is malformed ({exc})") from None
    if not tokens:
        raise InputError("InvokeAI Dream line is empty")
    prompt, negative = _split_negative(tokens[0])
    gen.params["prompt"] = prompt
    put(gen.params, "negative_prompt", negative)
    extra: dict[str, Any] = {}
    i = 1
    while i < len(tokens):
        flag = tokens[i]
        values: list[str] = []
        i += 1
        while i < len(tokens) and not (tokens[i].startswith("-") and to_float(tokens[i]) is None):
            values.append(tokens[i])
            i += 1
        known = _DREAM_FLAGS.get(flag)
        if known is not None and len(values) == 1:
            converted = convert(known, values[0])
            if converted is not None:
                gen.params[known] = converted
                continue
        if flag in ("-m", "--model") and values:
            gen.models.append(ModelRef(role="checkpoint", name=values[0]))
            continue
        extra[flag] = " ".join(values) if values else True
    if extra:
        gen.params["extra"] = extra
    rate_flat(gen)
    return gen


def parse_sd_metadata(text: str) -> Generation:
    """InvokeAI 2.x ``sd-metadata`` JSON."""
    data = jsonsafe.loads(text, what="InvokeAI sd-metadata")
    if not isinstance(data, dict):
        raise InputError("InvokeAI sd-metadata is not a JSON object")
    gen = Generation(tool="invokeai", metadata="execution")
    version = data.get("app_version")
    gen.tool_version = version if isinstance(version, str) else None
    image: dict[str, Any] = data["image"] if isinstance(data.get("image"), dict) else {}
    prompt = image.get("prompt")
    if isinstance(prompt, list):
        prompt = " ".join(p.get("prompt", "") for p in prompt if isinstance(p, dict))
    if isinstance(prompt, str):
        positive, negative = _split_negative(prompt)
        gen.params["prompt"] = positive
        put(gen.params, "negative_prompt", negative)
    used = {"prompt"} | take(gen.params, image, {
        "seed": "seed", "steps": "steps", "cfg": "cfg_scale", "width": "width",
        "height": "height", "denoise": "strength", "sampler": "sampler"})
    extra = {k: v for k, v in image.items() if k not in used}
    if extra:
        gen.params["extra"] = extra
    name = data.get("model_weights")
    digest = normalise_hash(data.get("model_hash"))
    if isinstance(name, str) or digest:
        ref = ModelRef(role="checkpoint", name=name if isinstance(name, str) else None)
        if digest:
            ref.hashes["sha256"] = digest
        gen.models.append(ref)
    rate_flat(gen)
    return gen


def _model_ref(role: str, value: Any, *, strength: Any = None) -> ModelRef | None:
    """A ModelRef from an InvokeAI model identifier (3.x ``model_name``, 4.x+ ``name``/``hash``)."""
    if isinstance(value, str):
        return ModelRef(role=role, name=value, strength=to_float(strength))
    if not isinstance(value, dict):
        return None
    name = value.get("name", value.get("model_name"))
    ref = ModelRef(role=role, name=name if isinstance(name, str) else None,
                   strength=to_float(strength))
    recorded = value.get("hash")
    if isinstance(recorded, str) and ":" in recorded:
        algo, _, hexdigits = recorded.partition(":")
        digest = normalise_hash(hexdigits)
        if digest and algo.lower() in ("blake3", "sha256"):
            ref.hashes[algo.lower()] = digest
    return ref


def _image_name(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("image_name")
    return value if isinstance(value, str) else None


def parse_invokeai_metadata(text: str) -> Generation:
    """InvokeAI 3.x+ ``invokeai_metadata`` (core metadata) JSON."""
    data = jsonsafe.loads(text, what="invokeai_metadata")
    if not isinstance(data, dict):
        raise InputError("invokeai_metadata is not a JSON object")
    return metadata_to_generation(data)


def metadata_to_generation(data: dict[str, Any]) -> Generation:
    """Normalise an InvokeAI core-metadata dict."""
    gen = Generation(tool="invokeai", metadata="execution")
    version = data.get("app_version")
    gen.tool_version = version if isinstance(version, str) else None
    p = gen.params
    used = take(p, data, {"prompt": "positive_prompt", "negative_prompt": "negative_prompt",
                          "sampler": "scheduler", "rng": "rand_device", "seed": "seed",
                          "steps": "steps", "cfg": "cfg_scale", "width": "width",
                          "height": "height", "clip_skip": "clip_skip", "denoise": "strength"})
    used |= {"app_version", "model", "vae", "loras", "controlnets", "ipAdapters", "t2iAdapters",
             "refiner_model", "init_image"}
    extra = {k: v for k, v in data.items() if k not in used}
    if extra:
        p["extra"] = extra
    for role, key in (("checkpoint", "model"), ("vae", "vae"), ("checkpoint", "refiner_model")):
        ref = _model_ref(role, data.get(key))
        if ref is not None:
            gen.models.append(ref)
    for lora in data.get("loras") or []:
        if isinstance(lora, dict):
            ref = _model_ref("lora", lora.get("model", lora.get("lora")), strength=lora.get("weight"))
            if ref is not None:
                gen.models.append(ref)
    adapters = (("controlnets", "control_model", "controlnet"),
                ("t2iAdapters", "t2i_adapter_model", "controlnet"),
                ("ipAdapters", "ip_adapter_model", "ip_adapter"))
    for key, model_key, role in adapters:
        for item in data.get(key) or []:
            if not isinstance(item, dict):
                continue
            ref = _model_ref(role, item.get(model_key), strength=item.get(
                "control_weight", item.get("weight")))
            if ref is not None:
                gen.models.append(ref)
            image_name = _image_name(item.get("image"))
            if image_name:
                gen.inputs.append(InputRef(role="image", name=image_name))
    init_name = _image_name(data.get("init_image"))
    if init_name:
        gen.inputs.append(InputRef(role="init_image", name=init_name))
    rate_flat(gen)
    return gen


def parse_invokeai_graph(text: str) -> Generation:
    """InvokeAI ``invokeai_graph`` without metadata: use its core-metadata node."""
    data = jsonsafe.loads(text, what="invokeai_graph")
    nodes = data.get("nodes") if isinstance(data, dict) else None
    if isinstance(nodes, dict):
        for node in nodes.values():
            if isinstance(node, dict) and node.get("type") in ("core_metadata", "metadata"):
                return metadata_to_generation(node)
    raise InputError("invokeai_graph has no core metadata node")
