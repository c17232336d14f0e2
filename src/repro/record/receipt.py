"""A rerun's receipt (schema ``repro.receipt/1``): an immutable object linked to
the record it tried, saying when, in which environment, and what came back.

``outcome`` is ``exact`` (the decoded pixels are identical), ``different``
(with ``max_abs_diff``, ``psnr`` and ``diff_image``, the object id of a PNG of
the difference) or ``failed`` (the job did not finish: ``explain`` says why).
``records`` are the records the rerun captured (the target itself when the
new file's bytes were identical). ``environment`` is the environment the
rerun ran in, as a capture records it.

A leaf: it imports nothing from repro outside this package.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

RECEIPT_SCHEMA = "repro.receipt/1"
OUTCOMES = ("exact", "different", "failed")


@dataclass(frozen=True)
class Receipt:
    target: str
    at: str
    outcome: str
    records: tuple[str, ...] = ()
    max_abs_diff: int | None = None
    psnr: float | None = None
    diff_image: str | None = None
    explain: tuple[str, ...] = ()
    environment: Mapping[str, Any] | None = None
    #: ComfyUI's ``POST /free`` before the job, and what it cost (seconds)
    freed: float | None = None
    schema: str = RECEIPT_SCHEMA
    #: the BLAKE3 of the stored bytes ("" before it is stored)
    id: str = field(default="", compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "target": self.target, "at": self.at,
                "outcome": self.outcome, "records": list(self.records),
                "max_abs_diff": self.max_abs_diff, "psnr": self.psnr,
                "diff_image": self.diff_image, "explain": list(self.explain),
                "environment": None if self.environment is None else dict(self.environment),
                "freed": self.freed}

    def show(self) -> dict[str, Any]:
        """What ``show``, ``log`` and ``verify`` print: the receipt, its id and summary."""
        return {"id": self.id, **self.to_dict(), "summary": self.summary()}

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.to_dict(), option=orjson.OPT_SORT_KEYS)

    @classmethod
    def from_bytes(cls, data: bytes, *, id: str = "") -> Receipt:
        """A stored receipt; ``ValueError`` when the bytes are not one."""
        value = orjson.loads(data)
        if not isinstance(value, dict) or value.get("schema") != RECEIPT_SCHEMA:
            raise ValueError("not a repro.receipt/1 object")
        if value.get("outcome") not in OUTCOMES or not isinstance(value.get("target"), str):
            raise ValueError("a receipt without a target or a known outcome")
        env = value.get("environment")
        return cls(target=value["target"], at=str(value.get("at") or ""),
                   outcome=value["outcome"],
                   records=tuple(str(r) for r in value.get("records") or ()),
                   max_abs_diff=value.get("max_abs_diff"), psnr=value.get("psnr"),
                   diff_image=value.get("diff_image"),
                   explain=tuple(str(e) for e in value.get("explain") or ()),
                   environment=env if isinstance(env, dict) else None,
                   freed=value.get("freed"), id=id)

    def where(self) -> str:
        """The environment in a few words: ``ComfyUI 0.3.64 a125cd8, torch 2.14.1, CPU``."""
        env = self.environment or {}
        tool = "ComfyUI" if env.get("tool") == "comfyui" else str(env.get("tool") or "tool")
        parts = [" ".join(str(p) for p in (tool, env.get("tool_version"),
                                          str(env.get("tool_commit") or "")[:7]) if p)]
        torch = env.get("torch")
        if isinstance(torch, Mapping) and torch.get("version"):
            parts.append(f"torch {torch['version']}")
        gpus = env.get("gpu")
        names = [str(g.get("name") or g.get("type") or "?") for g in gpus
                 if isinstance(g, Mapping)] if isinstance(gpus, list) else []
        parts.append(", ".join(dict.fromkeys(names)) if names else "CPU")
        return ", ".join(parts)

    def summary(self) -> str:
        """One sentence: ``reproduced exactly on 2026-12-03 with ComfyUI 0.3.64 ...``."""
        day = self.at[:10]
        if self.outcome == "exact":
            return f"reproduced exactly on {day} with {self.where()}"
        if self.outcome == "different":
            figures = f"max abs diff {self.max_abs_diff}"
            if self.psnr is not None:
                figures += f", PSNR {self.psnr:.1f} dB"
            return f"rerun on {day} with {self.where()} came back different ({figures})"
        why = f": {self.explain[0]}" if self.explain else ""
        return f"rerun on {day} with {self.where()} failed{why}"
