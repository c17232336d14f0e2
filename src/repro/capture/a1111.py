"""The A1111 "infotext" grammar (AUTOMATIC1111, Forge, reForge, SD.Next, saver nodes).

::

    <prompt, may span lines>
    Negative prompt: <negative, may span lines>
    Key: value, Key: "json-quoted, value", Hashes: {...}, ...

The last line is the parameter line only if it yields at least three
``Key: value`` pairs. Values containing ``,`` ``:`` or a newline are JSON
quoted. Extensions write ``Hashes: {...}`` and ``Civitai resources: [...]``
as *unquoted* JSON, which the pair regex would cut at the first comma, so
those are lifted out first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from repro import jsonsafe
from repro.capture.a1111_extensions import extension_models
from repro.capture.common import (
    convert,
    parse_size,
    put,
    rate_flat,
    stem,
    to_float,
)
from repro.capture.types import Generation, InputRef, ModelRef
from repro.errors import InputError, LimitExceeded
from repro.record.hashes import file_hash_scheme, normalise_hash

T = TypeVar("T")

#: Most models one infotext may name (each costs far more memory than its text).
MAX_MODELS = 10_000

# The reader regex of A1111 (modules/infotext_utils.py), as documented in FORMATS.md §1.2.
# A quoted value is matched "unrolled" (runs of plain characters, then one escape):
# a group repeated per character made re keep state per character (25 MB -> GBs).
_PARAM_RE = re.compile(r'\s*(\w[\w \-/]+):\s*("[^\\"]*(?:\\.[^\\"]*)*"|[^,]*)(?:,|$)')
_NETWORK_RE = re.compile(r"<(lora|lyco|hypernet):([^:>]+)((?::[^:>]*)*)>", re.IGNORECASE)
_JSON_KEYS = ("Hashes", "Civitai resources", "Civitai metadata")
_MAX_JSON_SCAN = 1024 * 1024
#: Marks pairs read from a ``|``-separated line (removed by ``split_infotext``).
_PIPED = "\0piped"

#: Infotext keys with a canonical name: key -> parameter.
CANONICAL = {
    "Seed": "seed", "Steps": "steps", "CFG scale": "cfg", "Sampler": "sampler",
    "Schedule type": "scheduler", "Denoising strength": "denoise", "Clip skip": "clip_skip",
    "RNG": "rng", "Batch size": "batch_size",
}


def a1111_defaults() -> dict[str, Any]:
    """What A1111's reader assumes for a key the infotext leaves out.

    These are *not* stored in records (absent means unknown); a diff may use
    them to tell "absent" from "changed". Keys are canonical parameter names
    where one exists, else the infotext key as it would appear in
    ``params["extra"]``.
    """
    return {
        "clip_skip": 1,
        "rng": "GPU",
        "scheduler": "Automatic",
        "Schedule max sigma": 0,
        "Schedule min sigma": 0,
        "Schedule rho": 0,
        "VAE Encoder": "Full",
        "VAE Decoder": "Full",
        "FP8 weight": "Disable",
        "Emphasis": "Original",
        "Hires sampler": "Use same sampler",
        "Hires checkpoint": "Use same checkpoint",
        "Mask mode": "Inpaint masked",
        "Masked content": "original",
        "Inpaint area": "Whole picture",
        "Masked area padding": 32,
    }


@dataclass
class Infotext:
    """An infotext split into its parts; ``pairs`` are the raw key -> value pairs."""

    prompt: str
    negative_prompt: str | None
    pairs: dict[str, Any] = field(default_factory=dict)
    #: The pairs were separated by ``|`` (SD.Next, 2023), not ``,``.
    piped: bool = False


def split_infotext(text: str) -> Infotext:
    """Split infotext into prompt, negative prompt and the ``Key: value`` pairs."""
    text = text.replace("\r\n", "\n").strip()
    *lines, last = text.split("\n")
    pairs = _parse_pairs(last)
    if pairs is None:
        lines.append(last)
        pairs = {}
    piped = pairs.pop(_PIPED, False) is True
    prompt: list[str] = []
    negative: list[str] = []
    in_negative = False
    for raw in lines:
        line = raw.strip()
        if line.startswith("Negative prompt:"):
            in_negative = True
            line = line[len("Negative prompt:"):].strip()
        (negative if in_negative else prompt).append(line)
    return Infotext(
        prompt="\n".join(prompt),
        negative_prompt="\n".join(negative) if in_negative else None,
        pairs=pairs,
        piped=piped,
    )


def _parse_pairs(line: str) -> dict[str, Any] | None:
    """The pairs of a parameter line, or None if it has fewer than three.

    Some 2023 SD.Next-era files separate the pairs with ``|`` instead of
    ``,`` (FORMATS.md R2.2): the separator that yields more pairs wins.
    """
    pairs = _parse_comma_pairs(line)
    if "|" in line:
        piped = _parse_piped_pairs(line)
        if piped is not None and len(piped) > len(pairs or {}):
            piped[_PIPED] = True
            return piped
    return pairs


def _parse_piped_pairs(line: str) -> dict[str, Any] | None:
    pairs: dict[str, Any] = {}
    for part in line.split("|"):
        key, sep, value = part.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or not re.fullmatch(r"\w[\w \-/]*", key):
            continue
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            value = _unquote(value)
        if value:
            pairs[key] = value
    return pairs if len(pairs) >= 3 else None


def _parse_comma_pairs(line: str) -> dict[str, Any] | None:
    lifted: dict[str, Any] = {}
    rest = line
    for key in _JSON_KEYS:
        found = _lift_json(rest, key)
        if found is not None:
            lifted[key], rest = found
    pairs: dict[str, Any] = {}
    matches = _PARAM_RE.findall(rest)
    if len(matches) + len(lifted) < 3:
        return None
    for key, value in matches:
        value = value.strip()
        if not value:
            continue
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            value = _unquote(value)
        pairs[key.strip()] = value
    pairs.update(lifted)
    return pairs


def _unquote(value: str) -> Any:
    try:
        decoded = jsonsafe.loads(value, what="infotext value")
    except InputError:
        return value
    return decoded if isinstance(decoded, str) else value


def _lift_json(line: str, key: str) -> tuple[Any, str] | None:
    """Find ``key: {json}`` / ``key: [json]`` in a parameter line; return it and the rest."""
    if key + ":" not in line:  # most lines carry none of these keys: no regex search
        return None
    match = re.search(r"(?:^|,\s*)" + re.escape(key) + r":\s*([\[{])", line)
    if match is None:
        return None
    start = match.start(1)
    end = _json_end(line, start)
    if end is None:
        return None
    try:
        value = jsonsafe.loads(line[start:end], what=f"infotext {key}")
    except InputError:
        return None
    rest = line[:match.start()] + line[end:]
    if match.start() == 0:
        rest = rest.lstrip(", ")
    return value, rest


def _json_end(text: str, start: int) -> int | None:
    """Index after the bracket closing the one at ``start``, honouring JSON strings."""
    depth = 0
    in_string = False
    escaped = False
    for i in range(start, min(len(text), start + _MAX_JSON_SCAN)):
        char = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def parse_a1111(text: str) -> Generation:
    """Normalise an A1111-family infotext into a ``Generation``.

    Tool is refined from ``Version``/``App``: ``v1.x`` a1111, ``f…`` forge,
    ``App: SD.Next`` sdnext, ``Version: ComfyUI`` comfyui (a saver node).
    """
    info = split_infotext(text)
    gen = Generation(metadata="execution")
    params = gen.params
    params["prompt"] = info.prompt
    put(params, "negative_prompt", info.negative_prompt)
    extra: dict[str, Any] = {}
    for key, value in info.pairs.items():
        name = CANONICAL.get(key)
        if name is None and key == "Scheduler" and "Schedule type" not in info.pairs:
            name = "scheduler"  # Fooocus's a1111 scheme
        if key == "Size" and (size := parse_size(value)):
            params["width"], params["height"] = size
            continue
        if name is not None:
            converted = convert(name, value, lenient=True)
            if converted is not None:
                params[name] = converted
                continue
            shown = value if len(value) <= 80 else value[:77] + "..."
            gen.warnings.append(f"infotext {key!r} value {shown!r} is not understood")
        extra[key] = value
    used = _models(gen, info)
    extra = {k: v for k, v in extra.items() if k not in used}
    if extra:
        params["extra"] = extra
    _tool(gen, info.pairs, piped=info.piped)
    rate_flat(gen)
    return gen


def _tool(gen: Generation, pairs: dict[str, Any], *, piped: bool = False) -> None:
    version = pairs.get("Version")
    version = version.strip() if isinstance(version, str) else None
    if pairs.get("App") == "SD.Next" or piped:
        gen.tool, gen.tool_version = "sdnext", version
    elif version == "ComfyUI":
        gen.tool = "comfyui"
    elif version and re.match(r"f[0-9]", version):
        gen.tool, gen.tool_version = "forge", version
    else:
        gen.tool, gen.tool_version = "a1111", version


def _named_values(value: Any, convert: Callable[[str], T | None]) -> list[tuple[str, T]]:
    """``"name: v1, name2: v2"`` -> [(name, convert(v1)), ...], leaving out what does not convert."""
    if not isinstance(value, str):
        return []
    found: list[tuple[str, T]] = []
    for item in value.split(","):
        name, sep, raw = item.rpartition(":")
        converted = convert(raw)
        if sep and name.strip() and converted is not None:
            found.append((name.strip(), converted))
    return found


def _model(gen: Generation, role: str, name: str | None) -> ModelRef:
    """The model of that role and name (or name stem), added if not yet listed.
    Looked up in a table, not by a scan: 40,000 LoRA names stay linear."""
    table = _lookup(gen)
    key = (role, stem(name) if name else None)
    found = table.get(key)
    if found is None:
        if len(gen.models) >= MAX_MODELS:
            raise LimitExceeded(f"infotext names more than {MAX_MODELS:,} models")
        found = ModelRef(role=role, name=name)
        gen.models.append(found)
        table[key] = found
        gen.__dict__["_a1111_models"][0] += 1
    return found


def _lookup(gen: Generation) -> dict[tuple[str, str | None], ModelRef]:
    """``(role, name stem) -> first such model`` of ``gen``, rebuilt when its model
    list was changed by anything but ``_model``."""
    cached = gen.__dict__.get("_a1111_models")
    if cached is None or cached[0] != len(gen.models):
        table: dict[tuple[str, str | None], ModelRef] = {}
        for m in gen.models:
            table.setdefault((m.role, stem(m.name) if m.name is not None else None), m)
        cached = gen.__dict__["_a1111_models"] = [len(gen.models), table]
    return cached[1]


def _models(gen: Generation, info: Infotext) -> set[str]:
    """Add the models the infotext names; the keys read only as models."""
    pairs = info.pairs
    model_name: str | None = pairs["Model"] if isinstance(pairs.get("Model"), str) else None
    hashes_json: dict[str, Any] = pairs["Hashes"] if isinstance(pairs.get("Hashes"), dict) else {}
    if model_name is None:
        # Saver nodes write {"Model:<name>": hash} when they have no Model key.
        model_name = next((k.split(":", 1)[1] for k in hashes_json
                           if isinstance(k, str) and k.lower().startswith("model:")), None)
    checkpoint_hash = normalise_hash(pairs.get("Model hash")) or normalise_hash(hashes_json.get("model"))
    if model_name or checkpoint_hash:
        ckpt = _model(gen, "checkpoint", model_name)
        if checkpoint_hash:
            ckpt.hashes.setdefault(file_hash_scheme(checkpoint_hash), checkpoint_hash)
    vae_name: str | None = pairs["VAE"] if isinstance(pairs.get("VAE"), str) else None
    vae_hash = normalise_hash(pairs.get("VAE hash")) or normalise_hash(hashes_json.get("vae"))
    if vae_name or vae_hash:
        vae = _model(gen, "vae", vae_name)
        if vae_hash:
            vae.hashes.setdefault("sha256", vae_hash)
    for kind, name, args in _NETWORK_RE.findall(info.prompt):
        role = "hypernetwork" if kind.lower() == "hypernet" else "lora"
        ref = _model(gen, role, name.strip())
        weight = next((to_float(a) for a in args.split(":") if to_float(a) is not None), None)
        if ref.strength is None:
            ref.strength = weight if weight is not None else 1.0
    for name, digest in _named_values(pairs.get("Lora hashes"), normalise_hash):
        # A1111 writes 12 hex of the tensor-data hash; Fooocus and saver nodes
        # write 10 hex of the whole-file SHA-256.
        key = "tensor_sha256" if len(digest) == 12 else "sha256"
        _model(gen, "lora", name).hashes.setdefault(key, digest)
    for name, weight in _named_values(pairs.get("Lora weights"), to_float):
        ref = _model(gen, "lora", name)
        if ref.strength is None:
            ref.strength = weight
    for name, digest in _named_values(pairs.get("TI hashes"), normalise_hash):
        _model(gen, "embedding", name).hashes.setdefault("sha256", digest)
    for key, value in hashes_json.items():
        json_digest = normalise_hash(value)
        if not isinstance(key, str) or json_digest is None or ":" not in key:
            continue
        prefix, _, name = key.partition(":")
        json_role = {"lora": "lora", "lyco": "lora", "embed": "embedding"}.get(prefix.lower())
        if json_role is not None and name:
            hash_key = "tensor_sha256" if json_role == "lora" and len(json_digest) == 12 else "sha256"
            _model(gen, json_role, name).hashes.setdefault(hash_key, json_digest)
    hypernet = pairs.get("Hypernet")
    if isinstance(hypernet, str) and hypernet.strip():
        ref = _model(gen, "hypernetwork", hypernet.strip())
        if ref.strength is None:
            ref.strength = to_float(pairs.get("Hypernet strength"))
    for key, value in pairs.items():
        if re.fullmatch(r"Module \d+", key) and isinstance(value, str) and value.strip():
            low = value.lower()
            role = "vae" if "vae" in low or low.startswith("ae.") else "text_encoder"
            _model(gen, role, value.strip())
    init_hash = normalise_hash(pairs.get("Init image hash"))
    if init_hash:
        gen.inputs.append(InputRef(role="init_image", hashes={"sha256": init_hash}))
    used, reasons = extension_models(pairs, lambda role, name: _model(gen, role, name))
    gen.reasons.extend(reasons)
    return used

