"""``repro store``: what the store holds, by model and version, and dropping chosen
model versions on purpose (as ``dvc gc`` and ``git lfs prune`` do).

A dropped version leaves a marker in ``.repro/dropped/<blake3>`` (when, size,
names), so that ``fsck`` does not call its absence damage and the view can say
it was dropped. Records that used it keep naming it and say ``not in store``;
``repro add`` of a file with those bytes stores them again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from repro.api.query import model_versions
from repro.api.repository import Repository
from repro.objects.atomic import write_bytes
from repro.objects.ids import check_id

DROPPED_DIR = "dropped"


def dropped_versions(repo: Repository) -> set[str]:
    """BLAKE3s of model versions dropped on purpose (present again or not)."""
    folder = repo.dot / DROPPED_DIR
    out: set[str] = set()
    if folder.is_dir():
        for p in folder.iterdir():
            with contextlib.suppress(ValueError):
                out.add(check_id(p.name))
    return out


@dataclass(frozen=True)
class StoredVersion:
    """One version of a model: its size, whether its bytes are in the store (and
    share their disk blocks with a model file: hardlink mode), how many records use it."""

    blake3: str
    size: int | None
    in_store: bool
    linked: bool
    dropped: bool
    uses: int
    paths: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"blake3": self.blake3, "size": self.size, "in_store": self.in_store,
                "linked": self.linked, "dropped": self.dropped, "uses": self.uses,
                "paths": list(self.paths)}


@dataclass
class StoreView:
    #: model name -> its versions, most used first
    models: dict[str, list[StoredVersion]] = field(default_factory=dict)
    objects: int = 0
    bytes: int = 0
    model_bytes: int = 0
    #: bytes of model objects that are hardlinks to a model file (no second copy)
    linked_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"models": [{"name": n, "versions": [v.to_dict() for v in vs]}
                           for n, vs in self.models.items()],
                "objects": self.objects, "bytes": self.bytes,
                "model_bytes": self.model_bytes, "linked_bytes": self.linked_bytes,
                "other_bytes": self.bytes - self.model_bytes}


def view(repo: Repository) -> StoreView:
    """The store by model name and version, with sizes, and its totals."""
    result = StoreView()
    for _, length in repo.store.sizes():
        result.bytes += length
        result.objects += 1
    dropped = dropped_versions(repo)
    versions = {e["blake3"]: e for e in repo.index.models()}
    for blake3, v in versions.items():
        size, linked, in_store = None, False, blake3 in repo.store
        if in_store:
            loose = repo.store.loose_path(blake3)
            size = repo.store.size(blake3)
            linked = loose is not None and loose.stat().st_nlink > 1
            result.model_bytes += size
            result.linked_bytes += size if linked else 0
        name = Path(v["names"][0]).name if v["names"] else blake3[:12]
        result.models.setdefault(name, []).append(StoredVersion(
            blake3, size, in_store, linked, blake3 in dropped and not in_store, v["uses"],
            tuple(v["paths"])))
    for vs in result.models.values():
        vs.sort(key=lambda s: (-s.uses, s.blake3))
    result.models = dict(sorted(result.models.items(), key=lambda kv: (
        -sum(s.size or 0 for s in kv[1]), kv[0])))
    return result


@dataclass
class DropResult:
    dropped: list[dict[str, Any]] = field(default_factory=list)
    kept: list[dict[str, Any]] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(d["size"] or 0 for d in self.dropped)

    def to_dict(self) -> dict[str, Any]:
        return {"dropped": self.dropped, "kept": self.kept, "bytes": self.bytes}


def drop(repo: Repository, models: Iterable[str], *, old_only: bool = False,
         dry_run: bool = False, cwd: Path | None = None,
         progress: Callable[[str, int, int], None] | None = None) -> DropResult:
    """Remove the stored bytes of the model versions ``models`` name (a hash: that
    version; a recorded name: every version seen under it; a file: the version it
    holds). With ``old_only``, versions whose bytes are at one of their recorded
    paths now are kept. Records keep naming the versions; they are then ``not in store``."""
    result = DropResult()
    wanted: list[str] = []
    for model in models:
        wanted += [b for b in model_versions(repo, model, cwd=cwd) if b not in wanted]
    names = repo.index.model_names(wanted)
    paths = {e["blake3"]: e["paths"] for e in repo.index.models()}
    with repo.lock():
        for n, blake3 in enumerate(wanted, 1):
            if progress:
                progress("dropping", n, len(wanted))
            entry: dict[str, Any] = {"blake3": blake3, "names": names.get(blake3, []),
                                     "size": None}
            if blake3 not in repo.store:
                result.kept.append({**entry, "reason": "not in the store"})
                continue
            entry["size"] = repo.store.size(blake3)
            if old_only and _on_disk(repo, blake3, paths.get(blake3, ())):
                result.kept.append({**entry, "reason": "on disk now at a recorded path"})
                continue
            result.dropped.append(entry)
            if dry_run:
                continue
            marker = {"at": datetime.now(UTC).isoformat(timespec="seconds"), **entry}
            # The marker first: a crash between the two leaves a marked object, harmless.
            (repo.dot / DROPPED_DIR).mkdir(exist_ok=True)
            write_bytes(repo.dot / DROPPED_DIR / blake3, orjson.dumps(marker) + b"\n",
                        tmp_dir=repo.tmp_dir)
            repo.store.remove([blake3])
    return result


def _on_disk(repo: Repository, blake3: str, paths: Iterable[str]) -> bool:
    for recorded in paths:
        p = repo.abspath(recorded)
        with contextlib.suppress(OSError):
            if p.is_file() and repo.stat_cache.hashes(p, ("blake3",))["blake3"] == blake3:
                return True
    return False
