"""NovelAI: PNG text fields ``Software``/``Description``/``Source``/``Comment`` (JSON).

The same fields appear as JSON in the stealth alpha payload, where ``Comment``
may itself be a JSON string.
"""

from __future__ import annotations

from typing import Any

from repro import jsonsafe
from repro.capture.common import put, rate_flat, take
from repro.capture.types import Generation, ModelRef
from repro.errors import InputError

CLOSED_REASON = "the model is NovelAI's closed service: its weights cannot be had"


def is_novelai(fields: dict[str, Any]) -> bool:
    """True when text fields name NovelAI as the software."""
    software = fields.get("Software")
    return isinstance(software, str) and software.strip().startswith("NovelAI")


def parse_novelai(fields: dict[str, Any]) -> Generation:
    """Normalise NovelAI text fields (values are strings; ``Comment`` is JSON)."""
    comment: Any = fields.get("Comment")
    if isinstance(comment, str):
        comment = jsonsafe.loads(comment, what="NovelAI Comment")
        if isinstance(comment, str):  # stealth copies may double-encode it
            comment = jsonsafe.loads(comment, what="NovelAI Comment")
    if comment is None:
        comment = {}
    if not isinstance(comment, dict):
        raise InputError("NovelAI Comment is not a JSON object")
    gen = Generation(tool="novelai", metadata="execution")
    p = gen.params
    prompt = fields.get("Description")
    if not isinstance(prompt, str):
        prompt = comment.get("prompt")
    if not isinstance(prompt, str):
        caption = (comment.get("v4_prompt") or {}).get("caption") if isinstance(
            comment.get("v4_prompt"), dict) else None
        prompt = caption.get("base_caption") if isinstance(caption, dict) else None
    put(p, "prompt", prompt.strip("\0") if isinstance(prompt, str) else None)
    used = {"prompt"} | take(p, comment, {
        "negative_prompt": "uc", "seed": "seed", "steps": "steps", "cfg": "scale",
        "width": "width", "height": "height", "batch_size": "n_samples", "sampler": "sampler",
        "scheduler": "noise_schedule"})
    extra = {k: v for k, v in comment.items() if k not in used}
    for key in ("Title", "Generation time"):
        if isinstance(fields.get(key), str):
            extra[key] = fields[key]
    if extra:
        p["extra"] = extra
    source = fields.get("Source")
    gen.models.append(ModelRef(role="checkpoint",
                               name=source.strip() if isinstance(source, str) else None))
    gen.reasons.append(CLOSED_REASON)
    rate_flat(gen)
    return gen
