"""The inputs step: find each input file a generation names, store it, and
find the parents its bytes (or A1111's pixel hash) make."""

from __future__ import annotations

import os
from pathlib import Path

from repro.api.add.models import changed_after, changed_at
from repro.api.add.output import iso_time
from repro.api.add.session import Session
from repro.api.repository import Repository
from repro.capture.types import Generation, InputRef
from repro.errors import ReproError
from repro.record import InputEntry
from repro.record.values import replace
from repro.verdict import InputFound


def capture_inputs(session: Session, gen: Generation, out_path: Path,
                   out_stat: os.stat_result
                   ) -> tuple[list[InputEntry], list[str], list[InputFound]]:
    """The record entries of the generation's inputs, the ids of the records whose
    outputs they are (parents), and how each was found (``out_stat``: the output's,
    which an input changed after it is compared with)."""
    search = [*session.input_dirs, out_path.parent]
    entries, parents, facts = [], [], []
    for ref in gen.inputs:
        entry, found_parents, fact = _capture_input(session, ref, search, out_stat)
        entries.append(entry)
        parents += found_parents
        facts.append(fact)
    return entries, parents, facts


def _capture_input(session: Session, ref: InputRef, search: list[Path],
                   out_stat: os.stat_result) -> tuple[InputEntry, list[str], InputFound]:
    repo = session.repo
    recorded = dict(ref.hashes)
    entry = InputEntry(role=ref.role, name=ref.name, node=ref.node, recorded=recorded)
    label = entry.label
    wanted = recorded.get("sha256", "").lower()
    path = _find_input(*_annotated(ref.name, search, repo)) if ref.name else None
    mismatch = None
    if path is not None:
        # Through the stat cache: an input shared by many outputs is read once.
        st = path.stat()
        got = repo.stat_cache.hashes(path, ("blake3", "sha256"))
        if not wanted or got["sha256"].startswith(wanted):
            blake3 = repo.store.put_file(path, known=got["blake3"])
            entry = replace(entry, path=repo.relpath(path), blake3=blake3,
                            hashes={"sha256": got["sha256"]})
            rid = session.output_record(blake3)
            # Bytes that matched a recorded hash are the input used, whatever their
            # times; without one, a file changed after the output may hold others.
            modified = None
            if not wanted and changed_after(st, out_stat):
                modified = (iso_time(changed_at(st, out_stat)), iso_time(out_stat.st_mtime))
            return entry, [rid] if rid else [], InputFound(label, "file", path=entry.path,
                                                           modified=modified)
        mismatch = InputFound(label, "mismatch", path=repo.relpath(path))
    parents: list[str] = []
    if wanted:
        parents = _parents_by_hash(session, wanted)
        if not parents and (match := session.by_pixels(wanted)) is not None:
            parents = [match[0]]
            entry = replace(entry, blake3=match[1])
    if mismatch is not None:
        return entry, parents, mismatch
    if parents:
        return entry, parents, InputFound(label, "parent")
    return entry, [], InputFound(label, "missing",
                                 searched=tuple(repo.relpath(d) for d in search))


def _parents_by_hash(session: Session, sha256: str) -> list[str]:
    return list(session.repo.index.records_for_output_sha256(sha256)) if sha256 else []


def _annotated(name: str, search: list[Path], repo: Repository) -> tuple[str, list[Path]]:
    """ComfyUI's annotated input names: ``x.png [output]`` is in its output folder,
    ``[input]`` in its input folder, ``[temp]`` in its temp folder."""
    for tag in ("input", "output", "temp"):
        suffix = f" [{tag}]"
        if name.endswith(suffix):
            comfy = repo.config.path("comfyui", "root")
            extra = [comfy / tag] if comfy is not None and tag != "input" else []
            return name[: -len(suffix)], [*extra, *search]
    return name, search


def _find_input(name: str, folders: list[Path]) -> Path | None:
    from repro.models.roots import safe_relative

    try:
        rel = safe_relative(name)
    except ReproError:
        return None
    for folder in folders:
        candidate = folder / rel
        if candidate.is_file():
            return candidate
    return None
