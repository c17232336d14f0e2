"""``repro verify``: can this output be reproduced now, and if not, why not.

Per recorded model, the disk is looked at now:

- ``ok``: the file at the recorded path has the recorded BLAKE3;
- ``moved``: not at its path, but a file with the recorded content is under a
  model root (a renamed LoRA);
- ``metadata-only``: the file at the path differs, but its tensor data is the
  same (a tool rewrote the safetensors header in place);
- ``changed``: the file at the path has other content;
- ``missing``: no file with the recorded content anywhere under the roots.

Each model also says where its recorded version is (``repro.api.where``):
``local`` (in the store, or on disk as recorded), ``remote`` (only on a remote,
as its index said at the last sync: ``checkout`` fetches it), or ``nowhere``.

``ready`` is true when every model is ``ok`` (or ``metadata-only``) and every
recorded input is where it was, i.e. pressing "generate" would load the
recorded versions (``repro.verdict.ready``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repro.api.environment_now import CurrentEnvironment
from repro.api.repository import Repository
from repro.api.where import LOCAL, Locator
from repro.models.resolve import Resolver
from repro.record import InputEntry, ModelEntry, Record
from repro.record.receipt import Receipt
from repro.verdict import (
    EnvironmentChange,
    Evidence,
    InputNow,
    ModelNow,
    Rerun,
    assess,
    ready,
    server_reason,
)


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
    #: where the recorded version is: ``local``, ``remote`` or ``nowhere`` (``where``)
    location: str = LOCAL
    #: the remotes whose index listed it at the last sync, when it is not local
    remotes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = {"role": self.role, "name": self.name, "blake3": self.blake3,
             "status": self.status, "path": self.path, "in_store": self.in_store,
             "location": self.location, "remotes": list(self.remotes)}
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
    codes: list[str] = field(default_factory=list)
    #: rerun receipts (``Receipt.show()``), oldest first
    receipts: list[dict[str, Any]] = field(default_factory=list)
    #: the output file itself: ``present`` at its recorded path, or ``missing`` (the
    #: store can bring it back: ``checkout --output``); it does not change ``ready``
    output: str = "present"

    def to_dict(self) -> dict[str, Any]:
        d = {"id": self.id, "level": self.level, "ready": self.ready,
             "reasons": self.reasons, "codes": self.codes,
             "models": [m.to_dict() for m in self.models], "receipts": self.receipts,
             "output": self.output}
        if self.environment is not None:
            d["environment"] = self.environment
        return d


def verify(repo: Repository, record: Record,
           current: CurrentEnvironment | None = None, *,
           resolver: Resolver | None = None, reruns: bool = True,
           server: tuple[str, bool] | None = None,
           locator: Locator | None = None) -> VerifyResult:
    """Check ``record`` against the disk now; with ``current`` (``environment_now``), also
    against the current environment of its tool: a difference known to change outputs
    makes it at most approximate. Pass one ``resolver`` when verifying many records,
    so that the model roots are walked once (and one ``locator``, so that the remotes'
    indexes are read once). With ``reruns``, the record's rerun
    receipts are evidence too (an exact rerun in the current environment is the
    strongest there is; one that differed makes it not ready). With ``server``
    (a ComfyUI URL and whether it was just freed), a ComfyUI record gets a note on
    that server's loader cache (``repro.api.server_cache``)."""
    from repro.api.server_cache import loader_cache

    resolver = resolver or Resolver(repo.config.model_roots, repo.stat_cache)
    locator = locator or Locator(repo)
    statuses = [locate(model_status(repo, resolver, m), locator) for m in record.models]
    diffs = _environment_diffs(record, current)
    receipts = []
    if reruns:
        now = current(record.tool.name) if current is not None else None
        receipts = receipt_evidence(repo, record, now)
    cache = loader_cache(record, server[0], freed=server[1], verb="verify") \
        if server is not None else None
    evidence = Evidence(
        captured=record.assessment,
        server=(server_reason(cache.note, downgrades=False),) if cache is not None else (),
        models_now=tuple(ModelNow(f"{s.role} {s.name or s.path}", _state(s), s.blake3, s.now,
                                  s.in_store, s.path, s.remotes) for s in statuses),
        inputs_now=tuple(inputs_now(repo, record.inputs, locator)),
        environment=tuple(EnvironmentChange(d["reason"], d["recorded"], d["current"],
                                            bool(d["changes_output"])) for d in diffs or ()),
        reruns=tuple(Rerun(r.outcome, r.summary(), same) for r, same in receipts))
    verdict = assess(evidence)
    path = record.output.path
    output = "present" if path is None or repo.abspath(path).is_file() else "missing"
    return VerifyResult(record.id, verdict.level, ready(evidence, verdict.level),
                        verdict.texts, statuses, diffs, verdict.codes,
                        [r.show() for r, _ in receipts], output)


def receipt_evidence(repo: Repository, record: Record,
                     current: dict[str, Any] | None) -> list[tuple[Receipt, bool | None]]:
    """Each receipt of ``record`` and whether it ran in the environment ``current``
    (None: unknown): no difference known to change outputs."""
    from repro.environment.compare import compare_environments

    found = []
    for receipt in repo.receipts.of(record.id):
        same: bool | None = None
        if current is not None and receipt.environment is not None:
            diffs = compare_environments(receipt.environment, current)
            same = not any(d["changes_output"] for d in diffs)
        found.append((receipt, same))
    return found


def locate(status: ModelStatus, locator: Locator) -> ModelStatus:
    """``status`` with where its recorded version is: on this machine when it is in the
    store or on disk as recorded; else the remotes (as of last sync), else nowhere."""
    here = status.in_store or status.status in ("ok", "moved")
    status.location, status.remotes = locator.location(status.blake3, here=here)
    return status


def _state(s: ModelStatus) -> str:
    return "edited-in-place" if s.edited_in_place else s.status


def inputs_now(repo: Repository, inputs: Iterable[InputEntry],
               locator: Locator | None = None) -> list[InputNow]:
    """Recorded input files that are no longer on disk as recorded; with a ``locator``,
    each says the remotes that have a version the store lacks (as of last sync)."""
    found = []
    for i in inputs:
        if not i.blake3:  # never found at capture: nothing a re-run could load
            found.append(InputNow(i.label, "unknown"))
            continue
        if not i.path:
            continue
        path = repo.abspath(i.path)
        if not path.is_file():
            state = "missing"
        elif repo.stat_cache.hashes(path, ("blake3",))["blake3"] != i.blake3:
            state = "changed"
        else:
            continue
        in_store = i.blake3 in repo.store
        remotes = locator.remotes_with(i.blake3) if locator and not in_store else ()
        found.append(InputNow(i.label, state, in_store, remotes))
    return found


def _environment_diffs(record: Record, current: CurrentEnvironment | None
                       ) -> list[dict[str, Any]] | None:
    recorded = record.environment
    if current is None or not isinstance(recorded, Mapping):
        return None
    now = current(record.tool.name)
    if now is None:
        return None
    from repro.api.environment_now import comparable
    from repro.environment.comfyui_server import noise_device
    from repro.environment.compare import compare_environments

    before, after = comparable(dict(recorded), now)
    return compare_environments(before, after,
                                noise_device=noise_device(record.tool.name,
                                                          record.params.to_dict()))


def model_status(repo: Repository, resolver: Resolver, model: ModelEntry) -> ModelStatus:
    blake3 = model.blake3
    recorded_path = model.path
    in_store = bool(blake3) and blake3 in repo.store

    def status(name: str, path: str | None, now: str | None = None) -> ModelStatus:
        return ModelStatus(model.role, model.name, blake3, name, path, in_store, now)

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
    elsewhere = resolver.find_by_content(blake3, model.size)
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


def _same_tensors(repo: Repository, model: ModelEntry, path: Path,
                  resolver: Resolver) -> bool:
    """Whether ``path`` holds the same tensor bytes as the recorded version
    (a tool such as SwarmUI rewrote the safetensors header in place)."""
    from repro.models.headers import sniff_model

    if sniff_model(path) not in ("safetensors", "gguf"):
        return False
    recorded = model.any_hashes().get("tensor_sha256")
    stored_file = repo.store.loose_path(model.blake3) if model.blake3 else None
    if not recorded and stored_file is not None:
        stored = repo.stat_cache.hashes(stored_file, ("tensor_sha256",))
        recorded = stored.get("tensor_sha256")
    if not recorded or len(recorded) != 64:
        return False
    current = resolver.cache.hashes(path, ("tensor_sha256",))
    return current.get("tensor_sha256") == recorded


def verify_records(repo: Repository, records: Sequence[Record] | None = None, *,
                   comfyui: str | None = None, free: bool = False
                   ) -> list[tuple[Record, VerifyResult]]:
    """``verify`` for each of ``records`` (default: every record, newest first), each
    with its result. The environment now is known from the configured tool folders
    or, with ``comfyui`` (a URL), from that running server; it is scanned once, and
    the model roots are walked once, for all the records. Where the server is known
    (``comfyui`` or ``[comfyui] url``), ComfyUI records get a note on its loader
    cache; with ``free``, the server is first asked to unload its models."""
    from repro.api.environment_now import environment_now
    from repro.api.server_cache import free_server, require_server, server_url

    url = server_url(repo, comfyui)
    if free:
        url = free_server(repo, require_server(url))
    server = (url, free) if url else None

    current = environment_now(repo, comfyui_url=comfyui)
    if records is None:
        records = [repo.load_record(i) for i in repo.index.all_ids(newest_first=True)]
    resolver = Resolver(repo.config.model_roots, repo.stat_cache)
    locator = Locator(repo)
    return [(r, verify(repo, r, current, resolver=resolver, server=server, locator=locator))
            for r in records]
