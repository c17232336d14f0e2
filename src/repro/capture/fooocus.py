"""Fooocus: ``parameters`` JSON (scheme ``fooocus``) or A1111 text (scheme ``a1111``)."""

from __future__ import annotations

import re
from typing import Any

from repro import jsonsafe
from repro.capture.common import rate_flat, take, to_float
from repro.capture.types import Generation, ModelRef
from repro.errors import InputError
from repro.record.hashes import file_hash_scheme, normalise_hash

#: Patterns are compiled at first use (``re``'s cache): ``detect`` imports this module
#: for its tests in every ``add``, which compiling them cost 1 ms.
_RESOLUTION = r"\(\s*(\d+)\s*,\s*(\d+)\s*\)"
#: Keys that only Fooocus JSON carries; any of them marks a parameters dict as Fooocus.
MARKERS = frozenset({"base_model", "base_model_hash", "full_prompt", "metadata_scheme",
                     "performance", "prompt_expansion", "adm_guidance"})

_FIELDS = {"prompt": "prompt", "negative_prompt": "negative_prompt", "sampler": "sampler",
           "scheduler": "scheduler", "seed": "seed", "steps": "steps", "cfg": "guidance_scale",
           "clip_skip": "clip_skip"}
_USED = {*_FIELDS.values(), "resolution", "base_model", "base_model_hash", "refiner_model",
         "refiner_model_hash", "loras", "vae", "version"}


def looks_like_fooocus(data: dict[str, Any]) -> bool:
    """True for a parameters dict Fooocus wrote."""
    version = data.get("version")
    return bool(MARKERS & data.keys()) or (isinstance(version, str)
                                          and version.startswith("Fooocus"))


def parse_fooocus(text: str, scheme: str | None = None) -> Generation:
    """Normalise Fooocus metadata; ``scheme`` is ``fooocus_scheme``/MakerNote when known."""
    from repro.capture.a1111 import parse_a1111  # detect imports this module for its tests
    stripped = text.lstrip()
    if scheme == "a1111" or not stripped.startswith("{"):
        gen = parse_a1111(text)
        version = gen.params.get("extra", {}).get("Version")
        gen.tool = "fooocus"
        gen.tool_version = _version(version)
        return gen
    data = jsonsafe.loads(text, what="Fooocus parameters")
    if not isinstance(data, dict):
        raise InputError("Fooocus parameters are not a JSON object")
    return fooocus_from_dict(data)


def _version(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return value.removeprefix("Fooocus ").strip() or None


def fooocus_from_dict(data: dict[str, Any]) -> Generation:
    """Normalise a Fooocus ``fooocus``-scheme parameters dict."""
    gen = Generation(tool="fooocus", metadata="execution", tool_version=_version(data.get("version")))
    p = gen.params
    take(p, data, _FIELDS)
    resolution = data.get("resolution")
    if isinstance(resolution, str) and (m := re.fullmatch(_RESOLUTION, resolution.strip())):
        p["width"], p["height"] = int(m[1]), int(m[2])
    extra = {k: v for k, v in data.items() if k not in _USED}
    if extra:
        p["extra"] = extra
    for role, name_key, hash_key in (("checkpoint", "base_model", "base_model_hash"),
                                     ("checkpoint", "refiner_model", "refiner_model_hash")):
        name = data.get(name_key)
        if not isinstance(name, str) or name in ("", "None"):
            continue
        ref = ModelRef(role=role, name=name)
        digest = normalise_hash(data.get(hash_key))
        if digest:
            ref.hashes["sha256"] = digest  # Fooocus: first 10 hex of the whole-file SHA-256
        gen.models.append(ref)
    vae = data.get("vae")
    if isinstance(vae, str) and vae and not vae.startswith("Default"):
        gen.models.append(ModelRef(role="vae", name=vae))
    loras = data.get("loras")
    for item in loras if isinstance(loras, list) else []:
        if isinstance(item, list | tuple) and item and isinstance(item[0], str):
            ref = ModelRef(role="lora", name=item[0],
                           strength=to_float(item[1]) if len(item) > 1 else None)
            digest = normalise_hash(item[2]) if len(item) > 2 else None
            if digest:
                ref.hashes["sha256"] = digest
            gen.models.append(ref)
    rate_flat(gen)
    return gen


# --- RuinedFooocus (FORMATS.md R2.6) -------------------------------------------------

_RUINED_FIELDS = {"prompt": "Prompt", "negative_prompt": "Negative", "sampler": "sampler_name",
                  "scheduler": "scheduler", "seed": "seed", "steps": "steps", "cfg": "cfg",
                  "width": "width", "height": "height", "clip_skip": "clip_skip",
                  "denoise": "denoise"}
_RUINED_USED = {*_RUINED_FIELDS.values(), "base_model_name", "base_model_hash", "loras",
                "software"}
_RUINED_LORA = r"^\s*([+-]?\d+(?:\.\d*)?)\s+-\s+(.+?)\s*$"


def is_ruinedfooocus(data: dict[str, Any]) -> bool:
    """True for RuinedFooocus ``parameters`` JSON (``"software": "RuinedFooocus"``)."""
    software = data.get("software")
    return isinstance(software, str) and software.strip().lower().startswith("ruinedfooocus")


def ruinedfooocus_from_dict(data: dict[str, Any]) -> Generation:
    """Normalise RuinedFooocus metadata: capitalised ``Prompt``/``Negative``, ints for
    cfg/size, ``base_model_name``/``base_model_hash`` (AutoV1, AutoV2 or the full
    SHA-256 by era) and ``loras`` as ``[[hash, "weight - name"]]`` or, before
    2024-07, a ``"Loras:<name:weight>,..."`` string."""
    gen = Generation(tool="fooocus", metadata="execution")
    p = gen.params
    take(p, data, _RUINED_FIELDS)
    extra = {k: v for k, v in data.items() if k not in _RUINED_USED}
    extra["software"] = data.get("software")
    p["extra"] = extra
    name = data.get("base_model_name")
    if isinstance(name, str) and name.strip():
        ref = ModelRef(role="checkpoint", name=name.strip())
        digest = normalise_hash(data.get("base_model_hash"))
        if digest:
            ref.hashes[file_hash_scheme(digest)] = digest
        gen.models.append(ref)
    gen.models.extend(_ruined_loras(data.get("loras")))
    rate_flat(gen)
    return gen


def _ruined_loras(value: Any) -> list[ModelRef]:
    found: list[ModelRef] = []
    if isinstance(value, str):  # "Loras:<name:weight>,<name:weight>"
        for item in re.findall(r"<([^<>]+)>", value):
            name, _, weight = item.rpartition(":")
            if name.strip():
                found.append(ModelRef(role="lora", name=name.strip(), strength=to_float(weight)))
        return found
    for item in value if isinstance(value, list) else []:
        if not (isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[1], str)):
            continue
        match = re.match(_RUINED_LORA, item[1])
        if match is None:
            continue
        ref = ModelRef(role="lora", name=match[2], strength=to_float(match[1]))
        digest = normalise_hash(item[0])
        if digest:
            ref.hashes[file_hash_scheme(digest)] = digest
        found.append(ref)
    return found
