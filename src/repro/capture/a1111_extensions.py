"""Model files an A1111-family infotext names outside ``Model``/``Lora hashes``.

Hires fix, ADetailer and sd-webui-controlnet record the upscaler, detector and
ControlNet files they loaded as plain keys (FORMATS.md R2.8); face restoration
records the restorer that ran (``Face restoration: CodeFormer``). Each is a
model entry with its role; names of built-in methods that load no file
(latent upscale modes, PIL resampling, MediaPipe detectors) stay parameters.
A key that looks like it names a model but that this module does not read is
reported, so the level never claims every model is known when it is not.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from repro.capture.common import to_float
from repro.capture.types import ModelRef

#: ``Hires upscaler`` values that load no model file (modules/shared.py, modules/upscaler.py).
BUILTIN_UPSCALERS = frozenset({
    "latent", "latent (antialiased)", "latent (bicubic)", "latent (bicubic antialiased)",
    "latent (nearest)", "latent (nearest-exact)", "none", "lanczos", "nearest",
})
#: ADetailer detectors without a model file (adetailer/common.py).
_FILELESS_DETECTORS = ("mediapipe_",)
#: Values that mean "nothing loaded" or "same as the main model".
_NOTHING = frozenset({"", "none", "passthrough", "use same checkpoint", "use same vae",
                      "automatic", "use same model"})
#: ``name [hash8]`` as model list titles spell a file (hash8 = AutoV1).
_TITLE_RE = re.compile(r"^(.*?)\s*\[([0-9a-fA-F]{8,12})\]\s*$")
_ADETAILER_RE = re.compile(r"ADetailer (model|checkpoint|VAE|ControlNet model)( \d+\w\w)?")
_CONTROLNET_RE = re.compile(r"ControlNet(?: \d+)?")
#: Keys whose words say they name a model file.
_MODEL_WORDS = re.compile(r"\b(model|checkpoint|upscaler|detector|vae)\b", re.IGNORECASE)
#: Keys that carry model words but hold no file name (or are read elsewhere).
_NOT_FILES = re.compile(
    r"(Model|Model hash|VAE|VAE hash|Hires checkpoint|Hires upscaler|Refiner|.* hash|.* hashes"
    r"|ADetailer model classes( \d+\w\w)?|.*(Encoder|Decoder)|VAE (Encoder|Decoder))",
)

Adder = Callable[[str, str | None], ModelRef]


def title(value: str) -> tuple[str, str | None]:
    """``"control_v11p_sd15_canny [d14c016b]"`` -> ``("control_v11p_sd15_canny", "d14c016b")``."""
    match = _TITLE_RE.match(value.strip())
    if match is None:
        return value.strip(), None
    return match[1].strip(), match[2].lower()


def _add_titled(add: Adder, role: str, value: str) -> ModelRef:
    name, digest = title(value)
    ref = add(role, name)
    if digest:
        ref.hashes.setdefault("autov1" if len(digest) == 8 else "sha256", digest)
    return ref


def _loads_nothing(value: Any) -> bool:
    return not isinstance(value, str) or value.strip().lower() in _NOTHING


def extension_models(pairs: dict[str, Any], add: Adder) -> tuple[set[str], list[str]]:
    """Add the model entries of hires fix, refiner, ADetailer and ControlNet keys.

    ``add(role, name)`` returns the (new or existing) entry. Returns the keys
    read and the reasons for keys that seem to name a model but were not read.
    """
    used: set[str] = set()
    reasons: list[str] = []
    restorer = pairs.get("Face restoration")
    if isinstance(restorer, str) and not _loads_nothing(restorer):
        face_restorer = add("face_restorer", restorer.strip())
        used.add("Face restoration")
        reasons.extend(face_restorer_reasons([face_restorer]))
    upscaler = pairs.get("Hires upscaler")
    if isinstance(upscaler, str) and upscaler.strip().lower() not in BUILTIN_UPSCALERS:
        add("upscaler", upscaler.strip())
        used.add("Hires upscaler")
    for key, role in (("Hires checkpoint", "checkpoint"), ("Refiner", "checkpoint")):
        value = pairs.get(key)
        if isinstance(value, str) and not _loads_nothing(value):
            _add_titled(add, role, value)
            used.add(key)
    for key, value in pairs.items():
        match = _ADETAILER_RE.fullmatch(key)
        if match is not None:
            if not isinstance(value, str) or _loads_nothing(value) or (
                    value.strip().lower().startswith(_FILELESS_DETECTORS)):
                continue
            role = {"model": "detector", "checkpoint": "checkpoint", "VAE": "vae",
                    "ControlNet model": "controlnet"}[match[1]]
            _add_titled(add, role, value)
            used.add(key)
        elif _CONTROLNET_RE.fullmatch(key) and isinstance(value, str):
            fields = controlnet_fields(value)
            model = fields.get("model")
            if model is not None and not _loads_nothing(model):
                ref = _add_titled(add, "controlnet", model)
                if ref.strength is None:
                    ref.strength = to_float(fields.get("weight"))
            used.add(key)
    unread = [key for key in pairs if key not in used and _MODEL_WORDS.search(key)
              and not _NOT_FILES.fullmatch(key) and not _loads_nothing(pairs[key])
              and not _ADETAILER_RE.fullmatch(key) and not _is_number(pairs[key])]
    reasons.extend(f"the infotext names a model under {key!r} ({str(pairs[key])[:60]}) that "
                   "repro does not read as a model file, so not every model used is known"
                   for key in unread)
    return used, reasons


def face_restorer_reasons(models: list[ModelRef]) -> list[str]:
    """Why a face restorer known only by name keeps a generation below ``full``.

    ``Face restoration`` holds the restorer's display name
    (``opts.face_restoration_model``: ``CodeFormer``, ``GFPGAN``;
    AUTOMATIC1111/stable-diffusion-webui modules/processing.py
    ``create_infotext``), not the weights file it loaded from
    ``models/Codeformer`` or ``models/GFPGAN``, and no hash: which bytes
    restored the faces is not recorded.
    """
    return [f"faces were restored by {m.name}, but the infotext records neither its model "
            "file nor a hash: which weights ran is not known"
            for m in models if m.role == "face_restorer" and not m.hashes]


def _is_number(value: Any) -> bool:
    return to_float(value) is not None


def controlnet_fields(value: str) -> dict[str, str]:
    """The fields of a ControlNet unit value, keys lower-cased.

    Current form ``Module: canny, Model: name [hash], Weight: 1.0, ...``;
    legacy form ``preprocessor: canny, model: name [hash], weight: 1, ...``
    (tuples such as ``(0, 1)`` hold commas, so only fields of interest are
    trusted).
    """
    fields: dict[str, str] = {}
    for match in re.finditer(r"(?:^|,)\s*([A-Za-z][\w /]*?):\s*([^,]*)", value):
        fields.setdefault(match[1].strip().lower(), match[2].strip())
    return fields
