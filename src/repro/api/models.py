"""``repro models``: known model versions, their ecosystem hashes and headers,
and ``repro models scan``: hash every model file under the roots once.

Hashes are cached in the stat cache, so a scan that is interrupted keeps what
it hashed, and lookups by any recorded hash (A1111 ``Model hash``, LoRA
hashes, SwarmUI tensor hashes...) are instant afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repro.api.repository import Repository
from repro.errors import ReproError
from repro.models.hashes import SCHEMES
from repro.models.roots import iter_model_files


def version_path(repo: Repository, blake3: str, paths: list[str]) -> Path | None:
    """A file holding this model version: the stored object, else a recorded path
    whose content still matches."""
    stored = repo.store.loose_path(blake3)  # a small model a pull packed has no file
    if stored is not None:
        return stored
    on_disk = on_disk_now(repo, blake3, paths, first=True)
    return repo.abspath(on_disk[0]) if on_disk else None


def on_disk_now(repo: Repository, blake3: str, paths: list[str], *,
                first: bool = False) -> list[str]:
    """The recorded paths that hold this version now (by content, through the stat
    cache: a file unchanged since it was hashed is not read again)."""
    found = []
    for recorded in paths:
        p = repo.abspath(recorded)
        with contextlib.suppress(OSError):
            if p.is_file() and repo.stat_cache.hashes(p, ("blake3",)).get("blake3") == blake3:
                found.append(recorded)
                if first:
                    break
    return found


def ecosystem_hashes(repo: Repository, path: Path) -> dict[str, str]:
    """Every hash scheme of a file (cached), plus the short forms people record."""
    from repro.models.hashes import civitai_crc32, short_forms

    hashes = repo.stat_cache.hashes(path, SCHEMES)
    out = dict(hashes)
    out.update(short_forms(hashes))
    if "crc32" in hashes:
        out["crc32_civitai"] = civitai_crc32(hashes["crc32"])
    return out


def header_info(path: Path) -> dict[str, Any] | None:
    """Format, architecture and metadata from a safetensors or GGUF header."""
    from repro.models.headers import model_info

    try:
        return model_info(path)
    except ReproError as exc:
        return {"error": str(exc)}


@dataclass(frozen=True)
class ModelVersion:
    """One model version the records use: its BLAKE3, the names, paths and roles it
    was recorded under, how many outputs used it, and what its file says now."""

    blake3: str
    names: tuple[str, ...]
    paths: tuple[str, ...]
    roles: tuple[str, ...]
    uses: int
    in_store: bool
    size: int | None = None
    format: str | None = None
    architecture: str | None = None
    metadata: dict[str, Any] | None = None
    hashes: dict[str, str] | None = None
    #: recorded paths that hold this version now
    on_disk: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"blake3": self.blake3, "names": list(self.names),
                             "paths": list(self.paths), "roles": list(self.roles),
                             "uses": self.uses, "in_store": self.in_store, "size": self.size,
                             "on_disk": list(self.on_disk)}
        if self.format:
            d.update(format=self.format, architecture=self.architecture, metadata=self.metadata)
        if self.hashes is not None:
            d["hashes"] = self.hashes
        return d


def list_models(repo: Repository, *, hashes: bool = False) -> list[ModelVersion]:
    """Known model versions with names, paths, roles, uses, where they are on disk now,
    and optionally every hash; ordered by role, name, then most used."""
    out = []
    for entry in repo.index.models():
        blake3 = entry["blake3"]
        on_disk = on_disk_now(repo, blake3, entry["paths"])
        path = repo.store.loose_path(blake3) or (
            repo.abspath(on_disk[0]) if on_disk else None)
        info = header_info(path) if path is not None else None
        if not (info and info.get("format")):
            info = None
        out.append(ModelVersion(
            blake3=blake3, names=tuple(entry["names"]), paths=tuple(entry["paths"]),
            roles=tuple(entry["roles"]), uses=entry["uses"], in_store=blake3 in repo.store,
            size=path.stat().st_size if path is not None else None,
            format=info.get("format") if info else None,
            architecture=info.get("architecture") if info else None,
            metadata=info.get("metadata") if info else None,
            hashes=ecosystem_hashes(repo, path) if hashes and path is not None else None,
            on_disk=tuple(on_disk)))
    return sorted(out, key=_useful_order)


def _useful_order(m: ModelVersion) -> tuple[int, str, int, str]:
    """Checkpoints first, then by role as the record's vocabulary lists them; by name;
    the most used version of a name first."""
    from repro.record.vocabulary import MODEL_ROLES

    role = m.roles[0] if m.roles else "other"
    rank = MODEL_ROLES.index(role) if role in MODEL_ROLES else len(MODEL_ROLES)
    return (rank, (m.names[0] if m.names else "").lower(), -m.uses, m.blake3)


@dataclass
class ScanResult:
    files: int = 0
    hashed: int = 0
    bytes_hashed: int = 0
    known: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"files": self.files, "hashed": self.hashed, "bytes_hashed": self.bytes_hashed,
                "known": self.known, "errors": self.errors}


def scan(repo: Repository, *,
         progress: Callable[[str, int, int], None] | None = None) -> ScanResult:
    """Hash every model file under the roots with every scheme (cached per file)."""
    result = ScanResult()
    files = list(iter_model_files(repo.config.model_roots))
    result.files = len(files)
    for n, (path, st) in enumerate(files, 1):
        if progress:
            progress("scanning models", n, len(files))
        known = repo.stat_cache.lookup(path, st)
        if set(SCHEMES) <= known.keys():
            result.known += 1
            continue
        try:
            repo.stat_cache.hashes(path, SCHEMES, st)
        except OSError as exc:
            result.errors.append({"path": str(path), "error": exc.strerror or str(exc)})
            continue
        result.hashed += 1
        result.bytes_hashed += st.st_size
    return result

