"""Read-only commands: ``show``, ``log``, ``models``, ``uses``, ``diff``, ``inspect``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from repro.api.repository import Repository
from repro.errors import InputError, NotFound
from repro.lineage.diff import diff_records
from repro.lineage.record import Record
from repro.objects.ids import is_id


def log(repo: Repository, target: Record | None, *, limit: int | None = None,
        descendants: bool = False) -> list[Record]:
    """``target`` then its ancestors (or descendants); all records newest first without one."""
    if target is None:
        ids = repo.index.all_ids(newest_first=True, limit=limit)
        return [repo.load_record(i) for i in ids]
    walk = repo.index.descendants if descendants else repo.index.ancestors
    rest = walk(target.id, None if limit is None else max(limit - 1, 0))
    records = [target, *(repo.load_record(i) for i in rest)]
    return records[:limit] if limit is not None else records


def models(repo: Repository) -> list[dict[str, Any]]:
    """Known model versions: ``{blake3, names, paths, roles, size, uses, in_store}``."""
    out = []
    for entry in repo.index.models():
        blake3 = entry["blake3"]
        entry["in_store"] = blake3 in repo.store
        entry["size"] = repo.store.size(blake3) if entry["in_store"] else None
        out.append(entry)
    return out


def model_versions(repo: Repository, model: str, *, cwd: Path | None = None) -> list[str]:
    """BLAKE3s a model argument names: a file path, a name, or a hash (prefix)."""
    cwd = cwd or Path.cwd()
    path = cwd / model
    if path.is_file():
        return [repo.stat_cache.hashes(path.resolve(), ("blake3",))["blake3"]]
    lowered = model.lower().removeprefix("blake3:").removeprefix("0x")
    found = repo.index.model_blake3s_named(model)
    if not found and is_id(lowered):
        found = [lowered]
    if not found and len(lowered) >= 6 and all(c in "0123456789abcdef" for c in lowered):
        found = repo.index.model_blake3s_with_prefix(lowered)
        if not found:
            found = [e.hashes["blake3"] for scheme in ("sha256", "tensor_sha256", "autov1")
                     for e in repo.stat_cache.find(scheme, lowered) if "blake3" in e.hashes]
    if not found:
        raise NotFound(f"no known model version named {model!r}",
                       hint="give a model file, its recorded name, or a hash; see `repro models`")
    return list(dict.fromkeys(found))


def uses(repo: Repository, model: str, *, any_version: bool = False,
         cwd: Path | None = None) -> list[Record]:
    versions = model_versions(repo, model, cwd=cwd)
    if any_version:
        names = {n for m in repo.index.models() if m["blake3"] in versions for n in m["names"]}
        for name in names:
            versions += [b for b in repo.index.model_blake3s_named(name) if b not in versions]
    return [repo.load_record(i) for i in repo.index.records_using(versions)]


def diff(repo: Repository, a: Record, b: Record) -> dict[str, Any]:
    return diff_records(a.data, b.data, a_id=a.id, b_id=b.id)


def inspect(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Generation metadata of files; needs no repository. Unreadable files raise."""
    from repro.capture import read_file

    results = []
    for path in paths:
        if path.is_dir():
            raise InputError(f"{path}: is a folder", hint="name image files to inspect")
        gen = read_file(path)
        results.append({"path": str(path), **gen.to_dict()})
    return results
