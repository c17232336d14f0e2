"""``repro status``: what needs attention, as ``git status`` and ``dvc status`` say it.

- ``uncaptured``: images under the output folders (config ``capture.outputs``,
  a ComfyUI root's ``output/``, an A1111 root's ``outputs/``) whose bytes no
  record has;
- ``models_changed``: recorded model paths whose file now holds none of the
  versions recorded there, or is gone, with where each of those versions is
  (``repro.api.where``: local, on a remote as of last sync, or nowhere);
- ``not_ready``: records ``repro verify`` would not call ready now.

It answers from the index and the stat cache instead of verifying every record:
each recorded model path is looked at once (its file hashed only when its size or
time changed since it was last hashed, so a second ``status`` reads no model
bytes), and only the records that this, the index or a look at their inputs cannot
call ready are verified in full: the cost follows the model paths and the records
at risk, not the records times their models.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from repro.api.repository import Repository
from repro.api.verify import ModelStatus, locate, model_status, verify_records
from repro.api.where import Locator
from repro.capture import OUTPUT_SUFFIXES
from repro.errors import IntegrityError
from repro.lineage.index import filtered_ids
from repro.models.resolve import Resolver
from repro.objects.walk import iter_files
from repro.record import ModelEntry
from repro.record.values import replace

#: Model states in which pressing generate loads the recorded tensors.
READY_STATES = ("ok", "metadata-only")

Progress = Callable[[str, int, int], None]


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


@dataclass
class _Place:
    """One model version at one recorded path, and how that path stands now."""

    blake3: str
    path: str
    role: str
    name: str
    records: int
    #: what the file at ``path`` holds now (BLAKE3), None when there is none
    held: str | None
    #: ``verify``'s look at it when the file does not hold it (None: it does)
    checked: ModelStatus | None = None

    @property
    def state(self) -> str:
        return "ok" if self.checked is None else self.checked.status


def status(repo: Repository, *, progress: Progress | None = None) -> Status:
    """Uncaptured outputs, changed model files and records no longer ready."""
    places = _model_places(repo, progress)
    locator = Locator(repo)
    return Status(_uncaptured(repo, progress), _changed_paths(places, locator),
                  _not_ready(repo, {p.blake3 for p in places if p.state not in READY_STATES}))


def _uncaptured(repo: Repository, progress: Progress | None) -> list[str]:
    found = []
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
            found.append(repo.relpath(path))
    return found


def _model_places(repo: Repository, progress: Progress | None) -> list[_Place]:
    """Every (version, path) the index knows, each path looked at once through the stat
    cache; a version its path does not hold is looked at as ``verify`` does (moved,
    header-only change, changed, missing) from the entry of one record that used it."""
    resolver = Resolver(repo.config.model_roots, repo.stat_cache)
    rows = repo.index.model_places()
    held: dict[str, str | None] = {}
    places = []
    for n, (blake3, path, role, name, uses) in enumerate(rows, 1):
        if progress:
            progress("looking at model files", n, len(rows))
        if path not in held:
            held[path] = _holds(repo, path)
        place = _Place(blake3, path, role, name, uses, held[path])
        if held[path] != blake3:
            place.checked = model_status(repo, resolver, _entry(repo, blake3, path))
        places.append(place)
    return places


def _holds(repo: Repository, path: str) -> str | None:
    """What the file at a recorded path holds now (its BLAKE3, through the stat cache)."""
    if not path:
        return None
    file = repo.abspath(path)
    try:
        st = os.stat(file)  # one stat, given to the cache (not one more for "a file?")
        if not stat.S_ISREG(st.st_mode):
            return None
        return repo.stat_cache.hashes(file, ("blake3",), st)["blake3"]
    except (OSError, ValueError):  # ValueError: a recorded path with a NUL in it
        return None


def _entry(repo: Repository, blake3: str, path: str) -> ModelEntry:
    """The model entry (size, recorded hashes) of a record that used ``blake3``, at ``path``."""
    rid = repo.index.last_record_using(blake3)
    model = next((m for m in repo.load_record(rid).models if m.blake3 == blake3), None) \
        if rid else None
    if model is None:
        raise IntegrityError(f"the index lists model version {blake3} for a record that does "
                             "not name it", hint="run `repro fsck --rebuild-index`")
    return replace(model, path=path or None)


def _changed_paths(places: list[_Place], locator: Locator) -> list[dict[str, Any]]:
    """Paths whose file holds none of the versions recorded there (a version now found
    elsewhere, a renamed file, does not count), with where each of those versions is."""
    by_path: dict[str, list[_Place]] = {}
    for place in places:
        if place.state != "moved" and place.path:
            by_path.setdefault(place.path, []).append(place)
    changed = []
    for path, group in sorted(by_path.items()):
        if any(p.state in READY_STATES for p in group):
            continue
        looked_at = [locate(p.checked, locator) for p in group if p.checked is not None]
        versions = [{"blake3": s.blake3, "location": s.location, "remotes": list(s.remotes)}
                    for s in looked_at]
        changed.append({"path": path, "role": group[0].role, "name": group[0].name,
                        "recorded": [p.blake3 for p in group], "now": group[0].held or "missing",
                        "records": sum(p.records for p in group), "versions": versions})
    return changed


def _not_ready(repo: Repository, versions_at_risk: set[str]) -> list[dict[str, Any]]:
    """The records ``verify`` would not call ready, verified in full; every other record
    is ready: its versions are where it recorded them, it was captured full with a model,
    it has no receipt, and its input files are in place (all known from the index and
    the stat cache: no record is read but those at risk)."""
    at_risk = set(repo.index.records_using(versions_at_risk)) if versions_at_risk else set()
    at_risk |= repo.index.records_to_verify()
    at_risk |= set(repo.receipts.targets())
    at_risk |= _inputs_gone(repo)
    if not at_risk:
        return []
    records = [repo.load_record(i) for i in filtered_ids(repo.conn, among=at_risk)]
    return [{"id": record.id, "path": record.output.path, "level": verdict.level,
             "reasons": verdict.reasons}
            for record, verdict in verify_records(repo, records) if not verdict.ready]


def _inputs_gone(repo: Repository) -> set[str]:
    """Records with an input ``verify`` would call gone: never hashed, or no longer at
    its recorded path with the recorded bytes (each path looked at once)."""
    gone, held = set(), {}
    for rid, blake3, path in repo.index.input_places():
        if blake3 is not None and path is not None:
            if path not in held:
                held[path] = _holds(repo, path)
            if held[path] == blake3:
                continue
        gone.add(rid)
    return gone
