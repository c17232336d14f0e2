"""``repro status``: what needs attention, as ``git status`` and ``dvc status`` say it.

- ``uncaptured``: images under the output folders (config ``capture.outputs``,
  a ComfyUI root's ``output/``, an A1111 root's ``outputs/``) whose bytes no
  record has;
- ``models_changed``: recorded model paths whose file now holds none of the
  versions recorded there, or is gone;
- ``not_ready``: records ``repro verify`` would not call ready now.

Files are hashed through the stat cache, so a second ``status`` reads no bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from repro.api.repository import Repository
from repro.api.verify import verify_records
from repro.capture import OUTPUT_SUFFIXES
from repro.objects.walk import iter_files


@dataclass
class Status:
    uncaptured: list[str] = field(default_factory=list)
    models_changed: list[dict[str, Any]] = field(default_factory=list)
    not_ready: list[dict[str, Any]] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.uncaptured or self.models_changed or self.not_ready)

    def to_dict(self) -> dict[str, Any]:
        return {"uncaptured": self.uncaptured, "models_changed": self.models_changed,
                "not_ready": self.not_ready}


def status(repo: Repository, *,
           progress: Callable[[str, int, int], None] | None = None) -> Status:
    """Uncaptured outputs, changed model files and records no longer ready."""
    result = Status()
    files = [path for folder in repo.config.output_dirs for path, _ in iter_files(folder)
             if path.suffix.lower() in OUTPUT_SUFFIXES]
    for n, path in enumerate(files, 1):
        if progress:
            progress("looking at outputs", n, len(files))
        try:
            blake3 = repo.stat_cache.hashes(path, ("blake3",))["blake3"]
        except OSError:
            continue
        if repo.index.record_for_output(blake3) is None:
            result.uncaptured.append(repo.relpath(path))
    # path -> (role, name, versions recorded there, what it holds now, records using it)
    paths: dict[str, dict[str, Any]] = {}
    for record, verdict in verify_records(repo):
        for m in verdict.models:
            if m.path is None or m.blake3 is None or m.status == "moved":
                continue
            entry = paths.setdefault(m.path, {"path": m.path, "role": m.role, "name": m.name,
                                              "recorded": [], "now": None, "records": 0})
            if m.blake3 not in entry["recorded"]:
                entry["recorded"].append(m.blake3)
            if m.status in ("changed", "missing"):
                entry["now"] = m.now if m.status == "changed" else "missing"
                entry["records"] += 1
            else:
                entry["ok"] = True
        if not verdict.ready:
            result.not_ready.append({"id": record.id, "path": record.output.path,
                                     "level": verdict.level, "reasons": verdict.reasons})
    for entry in paths.values():
        if entry["now"] is not None and not entry.pop("ok", False):
            result.models_changed.append(entry)
    return result
