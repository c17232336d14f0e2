"""``repro export``: a record's recipe in a tool's own form.

- ``api``: the executed ComfyUI prompt, byte for byte what the server ran, as
  ComfyUI's "Export (API)" writes it (``POST /prompt`` takes it as ``prompt``);
- ``workflow``: the editor workflow the job was sent with, to drag back into ComfyUI;
- ``a1111``: an AUTOMATIC1111 infotext: the recorded one when the output came
  from that family, else written from the record's parameters when they hold
  at least a prompt, a seed, steps, a cfg and a sampler.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from repro.api.repository import Repository
from repro.errors import InputError, UsageError
from repro.objects.atomic import write_bytes
from repro.record import Record
from repro.record.vocabulary import A1111_TOOLS

FORMATS = ("api", "workflow", "a1111")


@dataclass(frozen=True)
class Exported:
    format: str
    data: bytes
    #: the exported JSON value (api, workflow) or the infotext
    value: Any
    path: str | None = None

    def to_dict(self) -> Any:
        return self.value if self.format != "a1111" else {"format": "a1111",
                                                          "text": self.value}


def export(repo: Repository, record: Record, *, format: str,
           output: Path | None = None) -> Exported:
    """The recipe of ``record`` in ``format``; written atomically to ``output`` when given."""
    if format not in FORMATS:
        raise UsageError(f"unknown export format {format!r}", hint="use api, workflow or a1111")
    if format in ("api", "workflow"):
        from repro.api.comfyjob import executed

        found = executed(repo, record)
        value: Any = None if found is None else found.graph if format == "api" else found.workflow
        if value is None:
            what = "an executed ComfyUI prompt" if format == "api" else "a ComfyUI workflow"
            raise InputError(f"record {record.id[:12]} keeps no {what}",
                             hint="only ComfyUI outputs carry one; try --format a1111")
        data = orjson.dumps(value, option=orjson.OPT_INDENT_2)
    else:
        text = infotext(repo, record)
        value, data = text, text.encode()
    if output is not None:
        write_bytes(output, data, tmp_dir=output.parent, mode=0o644)
    return Exported(format, data, value, str(output) if output else None)


def infotext(repo: Repository, record: Record) -> str:
    oid = record.source.blobs.get("parameters")
    if record.tool.name in A1111_TOOLS and oid:
        return repo.store.read_bytes(oid).decode("utf-8", "replace")
    p = record.params
    needed = {"prompt": p.get("prompt"), "seed": p.get("seed"), "steps": p.get("steps"),
              "cfg": p.get("cfg"), "sampler": p.get("sampler")}
    missing = [k for k, v in needed.items() if v is None]
    if missing:
        raise InputError(f"record {record.id[:12]} does not allow an A1111 infotext: no "
                         f"{', '.join(missing)}",
                         hint="--format api or workflow give the ComfyUI recipe as it is")
    fields = [f"Steps: {p.get('steps')}", f"Sampler: {p.get('sampler')}"]
    if p.get("scheduler"):
        fields.append(f"Schedule type: {p.get('scheduler')}")
    fields += [f"CFG scale: {p.get('cfg')}", f"Seed: {p.get('seed')}"]
    if p.get("width") and p.get("height"):
        fields.append(f"Size: {p.get('width')}x{p.get('height')}")
    ckpt = next((m for m in record.models if m.role == "checkpoint"), None)
    if ckpt is not None:
        sha = ckpt.any_hashes().get("sha256")
        if sha:
            fields.append(f"Model hash: {sha[:10]}")
        if ckpt.name:
            fields.append(f"Model: {Path(ckpt.name).stem}")
    if p.get("denoise") is not None and p.get("denoise") != 1:
        fields.append(f"Denoising strength: {p.get('denoise')}")
    loras = [m for m in record.models if m.role == "lora" and m.name]
    prompt = str(p.get("prompt")) + "".join(
        f" <lora:{Path(m.name or '').stem}:{m.strength if m.strength is not None else 1}>"
        for m in loras)
    text = prompt
    if p.get("negative_prompt"):
        text += f"\nNegative prompt: {p.get('negative_prompt')}"
    tool = f"{record.tool.name} {record.tool.version or ''}".strip()
    fields.append(f"Version: {tool} (exported by repro)")
    return text + "\n" + ", ".join(_quote(f) for f in fields)


def _quote(field: str) -> str:
    key, _, value = field.partition(": ")
    if any(c in value for c in ",:\n"):
        return f"{key}: {orjson.dumps(value).decode()}"
    return field
