"""Value types produced by the metadata readers.

These are leaves: they import nothing from repro but the leaf ``repro.record``
(whose vocabulary gives the levels and model roles). A reader turns bytes into
a ``Generation``; the capture steps in ``repro.api`` turn a ``Generation`` plus
the resolved model and input files into a record made of ``repro.record``
types.
"""

from __future__ import annotations

from typing import Any

from repro.record.values import field, value_class
from repro.record.vocabulary import LEVELS, MODEL_ROLES, worst_level

__all__ = ["LEVELS", "MODEL_ROLES", "Generation", "InputRef", "ModelRef", "worst_level"]


@value_class
class ModelRef:
    """A model file a generation names.

    ``name`` is the name exactly as the file records it (a ComfyUI relative
    file name like ``sdxl/juggernaut.safetensors``, an A1111 ``Model:`` value,
    a LoRA alias from ``<lora:NAME:w>``). ``hashes`` holds what the file
    *recorded*, keyed by scheme (``sha256`` for a full or 10/12-hex prefix of
    the whole-file SHA-256, ``autov1``, ``tensor_sha256``, ``blake3``), values
    lower-case hex without ``0x`` and kept as long as written.
    ``folder`` is the ComfyUI model folder (``checkpoints``, ``loras``...) when
    known; ``node`` the ComfyUI node id that loads it.
    """

    role: str
    name: str | None = None
    strength: float | None = None
    strength_clip: float | None = None
    hashes: dict[str, str] = field(default_factory=dict)
    folder: str | None = None
    node: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"role": self.role}
        for key in ("name", "strength", "strength_clip", "folder", "node"):
            value = getattr(self, key)
            if value is not None:
                d[key] = value
        if self.hashes:
            d["hashes"] = dict(self.hashes)
        return d


@value_class
class InputRef:
    """A non-model file fed to the generation (init image, mask, ControlNet image)."""

    role: str
    name: str | None = None
    hashes: dict[str, str] = field(default_factory=dict)
    node: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"role": self.role}
        if self.name is not None:
            d["name"] = self.name
        if self.node is not None:
            d["node"] = self.node
        if self.hashes:
            d["hashes"] = dict(self.hashes)
        return d


@value_class
class Generation:
    """Everything one file says about how it was made.

    ``tool`` is one of the record schema's tool names, or None when the file
    carries no generation metadata. ``metadata`` says what kind of record it
    is: ``execution`` (parameters as executed), ``workflow-only`` (editor state
    only), ``provenance-only`` (C2PA, Midjourney text: who made it, not how),
    ``none``. ``format`` names the container and scheme the normalised view
    follows (``comfyui-png``, ``a1111-png``, ``a1111-exif``, ...), and
    ``formats`` every scheme found when the file carries several.
    ``params`` uses canonical names (DESIGN.md); absent means unknown.
    ``blobs`` are the raw metadata payloads, verbatim, by key (``prompt``,
    ``workflow``, ``parameters``, ``exif``...). ``level``/``reasons`` are the
    best the metadata alone supports. ``provenance`` holds facts such as a
    C2PA claim generator. ``width``/``height``/``media_type`` describe the
    image file itself.
    """

    tool: str | None = None
    tool_version: str | None = None
    format: str | None = None
    formats: list[str] = field(default_factory=list)
    metadata: str = "none"
    params: dict[str, Any] = field(default_factory=dict)
    models: list[ModelRef] = field(default_factory=list)
    inputs: list[InputRef] = field(default_factory=list)
    blobs: dict[str, bytes] = field(default_factory=dict)
    level: str = "none"
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    media_type: str | None = None
    width: int | None = None
    height: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``repro inspect --json`` view (without ``path``)."""
        d: dict[str, Any] = {
            "format": self.format,
            "formats": list(self.formats),
            "metadata": self.metadata,
            "tool": {"name": self.tool, "version": self.tool_version} if self.tool else None,
            "params": self.params,
            "models": [m.to_dict() for m in self.models],
            "inputs": [i.to_dict() for i in self.inputs],
            "level": self.level,
            "reasons": list(self.reasons),
            "warnings": list(self.warnings),
            "media_type": self.media_type,
            "width": self.width,
            "height": self.height,
        }
        if self.provenance:
            d["provenance"] = self.provenance
        return d
