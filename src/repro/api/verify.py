"""``repro verify``: can this output be reproduced now, and if not, why not.

Per recorded model, the disk is looked at now:

- ``ok``: the file at the recorded path has the recorded BLAKE3;
- ``moved``: not at its path, but a file with the recorded content is under a
  model root (a renamed LoRA);
- ``metadata-only``: the file at the path differs, but its tensor data is the
  same (a tool rewrote the safetensors header in place);
- ``changed``: the file at the path has other content;
- ``missing``: no file with the recorded content anywhere under the roots.

``ready`` is true when every model is ``ok`` (or ``metadata-only``), i.e.
pressing "generate" would load the recorded versions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repro.api.environment_now import CurrentEnvironment
from repro.api.repository import Repository
from repro.capture.types import worst_level
from repro.lineage.record import Record
from repro.models.resolve import Resolver


@dataclass
class ModelStatus:
    role: str | None
    name: str | None
    blake3: str | None
    status: str
    path: str | None
    in_store: bool
    now: str | None = None  # BLAKE3 of what is at the path now, when it differs
    #: the stored version shares its inode with the file (hardlink mode) and was edited
    edited_in_place: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = {"role": self.role, "name": self.name, "blake3": self.blake3,
             "status": self.status, "path": self.path, "in_store": self.in_store}
        if self.now:
            d["now"] = self.now
        if self.edited_in_place:
            d["edited_in_place"] = True
        return d


@dataclass
class VerifyResult:
    id: str
    level: str
    ready: bool
    reasons: list[str] = field(default_factory=list)
    models: list[ModelStatus] = field(default_factory=list)
    #: Differences from the current environment; None when it could not be known.
    environment: list[dict[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {"id": self.id, "level": self.level, "ready": self.ready,
             "reasons": self.reasons, "models": [m.to_dict() for m in self.models]}
        if self.environment is not None:
            d["environment"] = self.environment
        return d


def verify(repo: Repository, record: Record,
           current: CurrentEnvironment | None = None, *,
           resolver: Resolver | None = None) -> VerifyResult:
    """Check ``record`` against the disk now; with ``current`` (``environment_now``), also
    against the current environment of its tool: a difference known to change outputs
    makes it at most approximate. Pass one ``resolver`` when verifying many records,
    so that the model roots are walked once."""
    resolver = resolver or Resolver(repo.config.model_roots, repo.stat_cache)
    captured = record.data.get("reproducibility") or {}
    levels = [str(captured.get("level", "none"))]
    reasons = list(captured.get("reasons") or [])
    statuses = []
    for model in record.models:
        status = model_status(repo, resolver, model)
        statuses.append(status)
        label = f"{status.role} {status.name or status.path}"
        short = (status.blake3 or "")[:12]
        if status.status == "changed" and status.edited_in_place:
            levels.append("approximate")
            reasons.append(f"{label}: the file was edited in place, and it is hardlinked to "
                           "the store (store mode hardlink), so the recorded version is "
                           "damaged too: `repro fsck` lists it; restore the file from a backup")
        elif status.status == "changed":
            if status.in_store:
                reasons.append(f"{label}: file on disk is a different version (recorded "
                               f"{short}..., now {(status.now or '')[:12]}...); the recorded "
                               "version is in the store: run `repro checkout`")
            else:
                levels.append("approximate")
                reasons.append(f"{label}: file on disk is a different version (recorded "
                               f"{short}..., now {(status.now or '')[:12]}...) and the recorded "
                               "version is not in the store (captured in reference mode)")
        elif status.status == "missing" and status.blake3:
            if status.in_store:
                reasons.append(f"{label}: missing from disk; the recorded version is in the "
                               "store: run `repro checkout`")
            else:
                levels.append("approximate")
                reasons.append(f"{label}: missing from disk and not in the store")
        elif status.status == "moved":
            reasons.append(f"{label}: renamed or moved: the recorded version is now at "
                           f"{status.path}")
        elif status.status == "metadata-only":
            reasons.append(f"{label}: only the safetensors header changed (same tensors); "
                           "outputs are unaffected")
    ready = bool(statuses) and all(s.status in ("ok", "metadata-only") for s in statuses)
    if not statuses:
        ready = levels[0] != "none"
    ready = ready and all(s.blake3 for s in statuses)
    diffs = _environment_diffs(record, current, levels, reasons)
    return VerifyResult(record.id, worst_level(*levels), ready, list(dict.fromkeys(reasons)), statuses,
                        diffs)


def _environment_diffs(record: Record, current: CurrentEnvironment | None, levels: list[str],
                       reasons: list[str]) -> list[dict[str, Any]] | None:
    recorded = record.data.get("environment")
    if current is None or not isinstance(recorded, dict):
        return None
    now = current(record.tool_name)
    if now is None:
        return None
    from repro.api.environment_now import comparable
    from repro.environment.comfyui_server import noise_device
    from repro.environment.compare import compare_environments

    before, after = comparable(recorded, now)
    diffs = compare_environments(before, after,
                                 noise_device=noise_device(record.tool_name, record.params))
    for d in diffs:
        if d["changes_output"]:
            levels.append("approximate")
            reasons.append(f"environment: {d['reason']} (recorded {_show(d['recorded'])}, "
                           f"now {_show(d['current'])})")
    return diffs


def _show(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    return str(value)


def model_status(repo: Repository, resolver: Resolver, model: dict[str, Any]) -> ModelStatus:
    blake3 = model.get("blake3")
    recorded_path = model.get("path")
    in_store = bool(blake3) and blake3 in repo.store

    def status(name: str, path: str | None, now: str | None = None) -> ModelStatus:
        return ModelStatus(model.get("role"), model.get("name"), blake3, name, path, in_store,
                           now)

    if not blake3:
        return status("missing", recorded_path)
    path = repo.abspath(recorded_path) if recorded_path else None
    now = None
    if path is not None and path.is_file():
        now = resolver.blake3(path)
        if now == blake3:
            return status("ok", recorded_path)
        if in_store and _same_inode(repo.store.path(blake3), path):
            # Hardlink mode: the object *is* this file, and it was edited in place.
            in_store = False
            result = status("changed", recorded_path, now)
            result.edited_in_place = True
            return result
        if _same_tensors(repo, model, path, resolver):
            return status("metadata-only", recorded_path, now)
    elsewhere = resolver.find_by_content(blake3, model.get("size"))
    if elsewhere is not None:
        return status("moved", repo.relpath(elsewhere))
    if now is not None:
        return status("changed", recorded_path, now)
    return status("missing", recorded_path)


def _same_inode(a: Path, b: Path) -> bool:
    try:
        sa, sb = a.stat(), b.stat()
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _same_tensors(repo: Repository, model: dict[str, Any], path: Path,
                  resolver: Resolver) -> bool:
    """Whether ``path`` holds the same tensor bytes as the recorded version
    (a tool such as SwarmUI rewrote the safetensors header in place)."""
    from repro.models.headers import sniff_model

    if sniff_model(path) not in ("safetensors", "gguf"):
        return False
    recorded = (model.get("hashes") or {}).get("tensor_sha256")
    if not recorded and model["blake3"] in repo.store:
        stored = repo.stat_cache.hashes(repo.store.path(model["blake3"]), ("tensor_sha256",))
        recorded = stored.get("tensor_sha256")
    if not recorded or len(recorded) != 64:
        return False
    current = resolver.cache.hashes(path, ("tensor_sha256",))
    return current.get("tensor_sha256") == recorded


def verify_records(repo: Repository, records: Sequence[Record] | None = None, *,
                   comfyui: str | None = None) -> list[tuple[Record, VerifyResult]]:
    """``verify`` for each of ``records`` (default: every record, newest first), each
    with its result. The environment now is known from the configured tool folders
    or, with ``comfyui`` (a URL), from that running server; it is scanned once, and
    the model roots are walked once, for all the records."""
    from repro.api.environment_now import environment_now
    from repro.api.query import log

    current = environment_now(repo, comfyui_url=comfyui)
    if records is None:
        records = log(repo, None)
    resolver = Resolver(repo.config.model_roots, repo.stat_cache)
    return [(r, verify(repo, r, current, resolver=resolver)) for r in records]
