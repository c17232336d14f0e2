"""diffusers-based apps (Hugging Face Spaces) that write their settings as JSON.

There is no cross-Space convention (FORMATS.md R2.7); the most copied one is
Cagliostro Lab's Animagine XL Space: ``utils.save_image`` writes
``json.dumps(metadata)`` as the PNG text chunk ``metadata`` (copies of the
Space's ``utils.py`` and ``app.py`` on GitHub; FORMATS.md read it as
``parameters``, which is read too), with diffusers' argument names
(``num_inference_steps``, ``guidance_scale``), an A1111 sampler label, a
``"W x H"`` resolution and the checkpoint as ``"Model"``/``"Model hash"`` --
flat in 4.0 (``"Model hash": "6327eca98b"``), nested under ``"Model"`` in 3.1
(``{"Model": ..., "Model hash": "e3c47aedb0"}``). The hash is a constant the
app's author typed (AutoV2 of the published weights), not one computed from
the weights the Space loaded. No Space found writes a full SHA-256 under
another key, so ``Model hash`` is the only key read as the checkpoint's hash
(a bare ``sha256`` or ``hash`` may be the image's own). Keys are read by
shape. The pipeline, scheduler and library versions are never recorded, so
the level is ``approximate`` at best.
"""

from __future__ import annotations

import re
from typing import Any

from repro.capture.common import put_known, rate_flat
from repro.capture.types import Generation, ModelRef
from repro.record.hashes import file_hash_scheme, normalise_hash

_FIELDS = {
    "prompt": "prompt", "negative_prompt": "negative_prompt", "seed": "seed",
    "num_inference_steps": "steps", "steps": "steps", "guidance_scale": "cfg", "cfg": "cfg",
    "sampler": "sampler", "scheduler": "scheduler", "width": "width", "height": "height",
    "strength": "denoise", "clip_skip": "clip_skip",
}
#: Keys naming the checkpoint, and keys holding its hash.
_NAMES = ("Model", "model", "model_name", "model_id", "checkpoint", "base_model")
_HASHES = ("Model hash",)
_RESOLUTION_RE = re.compile(r"\s*(\d+)\s*[x×*]\s*(\d+)\s*")
#: Easy Diffusion's own keys: a dict with them is not a Space's.
_EASYDIFFUSION_KEYS = frozenset({"use_stable_diffusion_model", "Stable Diffusion model",
                                 "sampler_name", "use_vae_model"})
VERSIONS_REASON = ("a diffusers app: the pipeline, scheduler and library versions are not "
                   "recorded, so a re-run may differ slightly")


def looks_like_space(data: dict[str, Any]) -> bool:
    """True for diffusers-style settings JSON that Easy Diffusion did not write."""
    if _EASYDIFFUSION_KEYS & data.keys():
        return False
    return bool({"num_inference_steps", "guidance_scale"} & data.keys()) and "prompt" in data


def parse_space(data: dict[str, Any]) -> Generation:
    """Normalise a diffusers app's settings JSON."""
    gen = Generation(tool="diffusers", metadata="execution")
    extra: dict[str, Any] = {}
    model = _checkpoint(data)
    for key, value in data.items():
        if key == "resolution" and isinstance(value, str) and (
                m := _RESOLUTION_RE.fullmatch(value)):
            gen.params["width"], gen.params["height"] = int(m[1]), int(m[2])
        elif key in _NAMES or key in _HASHES:
            continue
        elif not put_known(gen.params, _FIELDS, key, value):
            extra[key] = value
    if extra:
        gen.params["extra"] = extra
    if model is not None:
        gen.models.append(model)
    gen.reasons.append(VERSIONS_REASON)
    rate_flat(gen)
    if gen.level == "partial" and gen.reasons == [VERSIONS_REASON]:
        gen.level = "approximate"
    return gen


def _checkpoint(data: dict[str, Any]) -> ModelRef | None:
    """``Model: "name"`` + ``Model hash``, or ``Model: {"Model": name, "Model hash": h}``."""
    holders = [data] + [v for k, v in data.items() if k in _NAMES and isinstance(v, dict)]
    name = digest = None
    for holder in holders:
        name = name or next((v.strip() for k in _NAMES if isinstance(v := holder.get(k), str)
                             and v.strip()), None)
        digest = digest or next((h for k in _HASHES if (h := normalise_hash(holder.get(k)))),
                                None)
    if name is None and digest is None:
        return None
    ref = ModelRef(role="checkpoint", name=name)
    if digest:
        ref.hashes[file_hash_scheme(digest)] = digest
    return ref

