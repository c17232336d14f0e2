"""``add --dry-run``: what ``add`` would capture and store, without writing.

Each file is read for its metadata and each model it names is resolved as
``add`` would; a model's BLAKE3 comes from the stat cache (hashed once, then
known to the real ``add`` too). Nothing enters the store or the index.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repro.api.add.verb import iter_files
from repro.api.repository import Repository
from repro.capture import read_file
from repro.errors import InputError, ReproError
from repro.models.resolve import Resolver
from repro.objects import hashing


@dataclass
class AddPlan:
    """Files that would be captured, already known or skipped; model versions that
    would enter the store; and the bytes each would take on disk in ``mode``."""

    mode: str
    capture: list[dict[str, Any]] = field(default_factory=list)
    known: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    models: list[dict[str, Any]] = field(default_factory=list)

    @property
    def model_bytes(self) -> int:
        """Disk the new model versions take in the store: a copy each in copy or
        reflink mode (a reflink may share blocks), none when linked or referenced."""
        if self.mode in ("hardlink", "reference"):
            return 0
        return sum(m["size"] for m in self.models)

    @property
    def output_bytes(self) -> int:
        return sum(c["size"] for c in self.capture)

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "capture": self.capture, "known": self.known,
                "skipped": self.skipped, "models": self.models,
                "model_bytes": self.model_bytes, "output_bytes": self.output_bytes}


def plan(repo: Repository, paths: Iterable[Path], *, mode: str | None = None,
         allow_empty: bool = False) -> AddPlan:
    """What ``add(repo, paths, mode=mode)`` would do, without writing anything."""
    paths = list(paths)
    for path in paths:
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
    result = AddPlan(mode or repo.config.get("store", "mode"))
    resolver = Resolver(repo.config.model_roots, repo.stat_cache)
    seen: set[str] = set()
    for path in iter_files(paths):
        try:
            blake3 = hashing.hash_file(path)
            if repo.index.record_for_output(blake3) is not None:
                result.known.append(str(path))
                continue
            gen = read_file(path)
        except (OSError, InputError) as exc:
            result.skipped.append({"path": str(path), "reason": str(exc)})
            continue
        if gen.metadata == "none" and not allow_empty:
            result.skipped.append({"path": str(path), "reason": "no generation metadata"})
            continue
        result.capture.append({"path": str(path), "tool": gen.tool,
                               "size": path.stat().st_size})
        for ref in gen.models:
            try:
                found = resolver.resolve(name=ref.name, role=ref.role, folder=ref.folder,
                                         recorded=dict(ref.hashes))
            except ReproError:
                continue
            if found.path is None:
                continue
            oid = found.hashes.get("blake3") or repo.stat_cache.hashes(found.path)["blake3"]
            if oid in seen or oid in repo.store:
                continue
            seen.add(oid)
            result.models.append({"name": ref.name, "path": repo.relpath(found.path),
                                  "blake3": oid, "size": found.path.stat().st_size})
    return result
