"""The ``add`` verb: lock, batches of durable commits, one file at a time."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from repro.api.add.build import Live, Parts, build_record, parents_of, server_facts, with_live
from repro.api.add.inputs import capture_inputs
from repro.api.add.models import capture_model
from repro.api.add.output import iso_time, read_image, sha256_of
from repro.api.add.session import EnvironmentArg, Progress, Session
from repro.api.add.thumbnail import look_at_output
from repro.api.repository import Repository
from repro.capture import read_bytes, read_file
from repro.errors import InputError
from repro.lineage.pixels import is_pixels_md5
from repro.objects import hashing, walk
from repro.objects.faults import checkpoint
from repro.record import LEVELS, Output, Parent, Record
from repro.record.codec import MAX_RECORD_BYTES, encode
from repro.record.values import field, replace, value_class

#: Files captured per durable commit (see ``ObjectStore.batch``): each commit
#: costs about three syncs of the filesystem, whatever its size.
BATCH = 1024


@value_class(frozen=True)
class Captured:
    """One file's outcome: its record, ``existing`` when the output was captured
    before and is unchanged, or ``superseded`` naming the earlier record a new
    capture of the same output replaces (``refresh``, or it now knows more)."""

    path: str
    record: Record
    existing: bool
    superseded: Record | None = None

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def state(self) -> str:
        return "known" if self.existing else "refreshed" if self.superseded else "added"

    def to_dict(self) -> dict[str, Any]:
        r = self.record
        d = {"id": r.id, "path": self.path, "output": r.output.blake3, "tool": r.tool.name,
             "level": r.level, "reasons": r.assessment.texts, "codes": r.assessment.codes,
             "existing": self.existing, "state": self.state}
        if self.superseded is not None:
            d["supersedes"] = self.superseded.id
            d["was"] = self.superseded.level
        return d


@value_class
class AddResult:
    records: list[Captured] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    #: What this add put into the store: model versions ({name, blake3, size, mode}),
    #: outputs and their bytes.
    stored: dict[str, Any] = field(default_factory=lambda: {
        "models": [], "model_bytes": 0, "outputs": 0, "output_bytes": 0})

    def to_dict(self) -> dict[str, Any]:
        return {"records": [r.to_dict() for r in self.records], "skipped": self.skipped,
                "stored": self.stored}


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files named, and files under folders named (sorted, ``.repro`` skipped)."""
    for path in paths:
        if path.is_dir():
            yield from (p for p, _ in walk.iter_files(path))
        else:
            yield path


def add(repo: Repository, paths: Iterable[Path], *, parents: Iterable[str] = (),
        message: str | None = None, tag: str | None = None, mode: str | None = None,
        allow_empty: bool = False, environment: EnvironmentArg = None,
        progress: Progress | None = None, live: dict[Path, Live] | None = None,
        refresh: bool = False, links: Iterable[Parent] = ()) -> AddResult:
    """Capture every image under ``paths``. Files that cannot be captured are skipped
    with a reason; a path that does not exist, or a single named file that cannot be
    read, raises ``InputError``. ``live`` gives, per file path, what a capture at
    creation time observed (see ``Live``). ``parents`` (targets) get the relation
    ``given``; ``links`` are parents with their own relation (``rerun-of``,
    ``variation-of`` with what changed), by record id.

    An output captured before gets a new record that supersedes the old one (kept
    in the store, and in ``log``) when ``refresh`` asks for it, when a ``message``
    is given, or when capturing it now identifies more of what made it (a model
    or input found by content that was not, a better level); otherwise the
    existing record is answered."""
    paths = list(paths)
    for path in paths:
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
    mode = mode or repo.config.get("store", "mode")
    result = AddResult()
    files = list(iter_files(paths))
    single = len(paths) == 1 and len(files) == 1 and not paths[0].is_dir()
    parent_ids = [repo.resolve_target(p).id for p in parents]
    if tag is not None:
        from repro.api.tags import check_free

        check_free(repo, tag, _known_id(repo, files[-1]) if files else None)
    links = tuple(links)
    with repo.lock(), collecting_less():
        session = Session(repo, mode=mode, environment=environment, progress=progress)
        done = 0
        for start in range(0, len(files), BATCH):
            # One durable commit per batch: objects, then records, then the index.
            # Small objects go into one pack (``repro.objects.batching``), but for
            # one image: its five objects stay loose, and packs few.
            with repo.store.batch(pack=len(files) > 1):
                for path in files[start:start + BATCH]:
                    done += 1
                    if progress:
                        progress("capturing", done, len(files))
                    try:
                        captured = capture_file(
                            session, path, parents=parent_ids, message=message,
                            allow_empty=allow_empty, live=(live or {}).get(path),
                            refresh=refresh, links=links)
                    except InputError as exc:
                        if single:
                            raise
                        result.skipped.append({"path": str(path), "reason": str(exc)})
                        continue
                    result.records.append(captured)
                # Journal the records before the batch puts them in place: a crash
                # before the index has them is healed by the next writer (lineage.journal).
                # The batch's one sync of its own files makes the journal durable too.
                if repo.journal.append(r.id for r in session.pending.values()):
                    repo.store.sync_with_batch(str(repo.journal.path))
            checkpoint("add.stored")
            session.flush_index()
            repo.journal.clear()
            checkpoint("add.indexed")
        models = list(session.stored_models.values())
        result.stored = {"models": models, "outputs": session.stored_outputs[0],
                         "output_bytes": session.stored_outputs[1],
                         "model_bytes": sum(m["size"] for m in models
                                            if m["mode"] in ("copy", "reflink"))}
        if tag and result.records:
            repo.refs.set_tag(tag, result.records[-1].id)
    return result


@contextlib.contextmanager
def collecting_less() -> Iterator[None]:
    """Python's cycle collector, run less often while a batch is captured: each image
    makes thousands of short-lived containers (its parsed graph, its record's parts),
    and at the default threshold (700) the youngest generation was collected every
    few images and, now and then, every object the process holds walked: 3-4% of a
    re-capture batch's CPU. Memory waits for at most 10,000 more allocations."""
    before = gc.get_threshold()
    gc.set_threshold(10_000, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def heal(session: Session, known: Record, data: bytes | None, path: Path) -> None:
    """Store again the output and metadata bytes of a known record that the store
    lost (``fsck --repair`` moved them aside, or they were deleted): the file
    being added has them."""
    store = session.repo.store
    lost = [oid for oid in (known.output.blake3, *known.source.blobs.values())
            if oid not in store]
    if not lost:
        return
    if known.output.blake3 in lost:
        if data is not None:
            store.put_bytes(data, known=known.output.blake3)
        else:
            store.put_file(path)
    blobs = set(lost) & set(known.source.blobs.values())
    if blobs:
        gen = read_bytes(data, name=str(path), sidecar_path=str(path)) if data is not None \
            else read_file(path)
        for value in gen.blobs.values():
            oid = hashing.hash_bytes(value)
            if oid in blobs:
                store.put_bytes(value, known=oid)


def capture_file(session: Session, path: Path, *, parents: list[str], message: str | None,
                 allow_empty: bool, live: Live | None = None, refresh: bool = False,
                 links: tuple[Parent, ...] = ()) -> Captured:
    """One file's record: new, known, or a new one superseding the known one."""
    repo = session.repo
    # An image is read once: its metadata, hashes and stored copy all come
    # from these bytes, and an output already captured is not parsed again.
    data, out_stat = read_image(path)
    try:
        blake3 = hashing.hash_bytes(data) if data is not None else hashing.hash_file(path)
    except OSError as exc:  # unreadable: skipped in a folder, an error when named alone
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    known = session.known_output(blake3)
    if known is not None:
        heal(session, known, data, path)
    fresh_message = bool(message) and known is not None and message != known.message
    if known is not None and not (refresh or fresh_message or known.level != "full"):
        return Captured(str(path), known, True)
    if data is not None:
        gen = read_bytes(data, name=str(path), sidecar_path=str(path))
    else:  # large, unreadable or not an image: read_file streams it or says why
        gen = read_file(path)
    out_stat = out_stat or path.stat()
    environment = session.environment_for(gen.tool)
    if live is not None:
        gen = with_live(gen, live)
        if live.environment is not None:
            environment = live.environment
    if gen.metadata == "none" and not allow_empty:
        raise InputError(f"{path}: no generation metadata to capture",
                         hint="use --allow-empty to capture it as level none")

    found = [capture_model(session, ref, out_stat) for ref in gen.models]
    models = [entry for entry, _ in found]
    inputs, input_parents, input_facts = capture_inputs(session, gen, path, out_stat)

    sha256 = sha256_of(data, path)
    if data is not None:
        repo.store.put_bytes(data, known=blake3)
        session.prints.append(look_at_output(repo, blake3, data))
    elif repo.store.put_file(path) != blake3:
        raise InputError(f"{path}: the file changed while it was captured",
                         hint="capture it again once it is completely written")
    else:  # too large to fingerprint (``perceptual.MAX_SOURCE_BYTES``)
        session.prints.append((blake3, None, None))
    blobs = {key: repo.store.put_bytes(value) for key, value in sorted(gen.blobs.items())}
    waits = any(is_pixels_md5(i.recorded.get("sha256")) and not i.blake3 for i in inputs)
    output = Output(blake3=blake3, sha256=sha256, path=session.output_relpath(path),
                    size=out_stat.st_size, media_type=gen.media_type, width=gen.width,
                    height=gen.height, mtime=iso_time(out_stat.st_mtime),
                    pixels_md5=session.pixels_if_wanted(data if data is not None else path,
                                                        waits))
    parts = Parts(gen=gen, output=output, models=models, model_facts=[f for _, f in found],
                  inputs=inputs, input_facts=input_facts,
                  parents=parents_of(parents, input_parents, links), blobs=blobs,
                  environment=environment, server=server_facts(session, live, models))
    record = build_record(session, parts, message)
    if known is not None:
        if not (refresh or fresh_message or knows_more(record, known)):
            return Captured(str(path), known, True)
        # A rerun that gave the same bytes supersedes its target: not its own parent.
        union = {p.id: p for p in (*record.parents, *known.parents) if p.id != known.id}
        record = replace(record, supersedes=known.id, message=message or known.message,
                         parents=tuple(union[k] for k in sorted(union)))
    as_json = record.to_dict()
    raw = encode(as_json)
    if len(raw) > MAX_RECORD_BYTES:
        raise InputError(f"{path}: its record would be {len(raw):,} bytes, more than the "
                         f"{MAX_RECORD_BYTES:,} a record may hold",
                         hint="the file carries unusually large metadata; it was not captured")
    rid = repo.store.put_bytes(raw, group=1)
    record = replace(record, id=rid)
    session.pending[blake3] = record
    session.pending_json[rid] = as_json
    session.stored_outputs[0] += 1
    session.stored_outputs[1] += out_stat.st_size
    return Captured(str(path), record, False, known)


def _known_id(repo: Repository, path: Path) -> str | None:
    """The current record of the file's bytes, if it was captured before."""
    try:
        return repo.index.record_for_output(hashing.hash_file(path))
    except OSError:
        return None


def knows_more(new: Record, old: Record) -> bool:
    """Whether a new capture of an output identifies more than its old record: a
    better level, or more models or inputs identified by content."""
    if LEVELS.index(new.level) < LEVELS.index(old.level):
        return True
    by_content = (sum(1 for m in new.models if m.blake3) > sum(1 for m in old.models if m.blake3)
                  or sum(1 for i in new.inputs if i.blake3) > sum(1 for i in old.inputs
                                                                   if i.blake3))
    return by_content and LEVELS.index(new.level) <= LEVELS.index(old.level)
