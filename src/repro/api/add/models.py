"""The models step: find each model a generation names, store its bytes (at
most one read, none when already known), and say how it was found."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from repro.api.add.output import iso_time
from repro.api.add.session import Progress, Session
from repro.capture.types import ModelRef
from repro.errors import ReproError
from repro.models.resolve import Resolved
from repro.record import ModelEntry
from repro.record.values import replace, value_class
from repro.record.vocabulary import ADAPTER_ROLES
from repro.verdict import ModelFound

#: Files at least this large get a byte progress bar while they are hashed.
BIG_FILE = 100 * 1024 * 1024


@value_class(frozen=True)
class _Resolved:
    """A model reference found and stored earlier in this ``add``: the file, the
    stat it had then, and what the record says of it (its hashes are its BLAKE3
    alone: only a reference that recorded no hash is kept)."""

    path: Path
    signature: tuple[int, int, int, int, int]
    label: str
    rel: str
    blake3: str
    size: int
    base: dict[str, Any] | None
    found_by: str | None
    how: str


def _signature(st: os.stat_result) -> tuple[int, int, int, int, int]:
    """What the stat cache keys a file's hashes by: unchanged, the same bytes."""
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def capture_model(session: Session, ref: ModelRef, out_stat: os.stat_result
                  ) -> tuple[ModelEntry, ModelFound]:
    """The record entry of one model the generation names, and how it was found.

    The images of a batch name the same few models again and again: a reference
    that recorded no hash, resolved and stored earlier in this add, is answered again from
    ``session.models`` while its file's stat is unchanged (one ``stat``, no
    resolving, no store or stat cache lookup)."""
    key = (ref.role, ref.name, ref.folder, tuple(sorted(ref.hashes.items())))
    known = session.models.get(key)
    if known is not None:
        try:
            st = os.stat(known.path)
        except OSError:
            st = None
        if st is not None and _signature(st) == known.signature:
            return _entry_again(ref, known, st, out_stat)
    entry, found, resolved = _capture_model(session, ref, out_stat)
    if resolved is not None:
        session.models[key] = resolved
    elif key in session.models:
        del session.models[key]
    return entry, found


def _entry_again(ref: ModelRef, known: _Resolved, st: os.stat_result,
                 out_stat: os.stat_result) -> tuple[ModelEntry, ModelFound]:
    """``_capture_model``'s answer for a file resolved before and unchanged since."""
    recorded = dict(ref.hashes)
    entry = ModelEntry(role=ref.role, name=ref.name, path=known.rel, blake3=known.blake3,
                       size=known.size, strength=ref.strength, strength_clip=ref.strength_clip,
                       folder=ref.folder, node=ref.node, recorded=recorded,
                       hashes={"blake3": known.blake3}, found_by=known.found_by,
                       base_model=known.base)
    return entry, ModelFound(known.label, known.how, path=known.rel,
                             recorded_hash=_first_hash(recorded),
                             modified=_modified(st, out_stat, recorded))


def _capture_model(session: Session, ref: ModelRef, out_stat: os.stat_result
                   ) -> tuple[ModelEntry, ModelFound, _Resolved | None]:
    """``capture_model`` the first time a reference is met; with what may answer it
    again (None when the file was not found, was checked against a recorded hash,
    or its hash is not one the stat cache trusts yet: a racy one is hashed again by
    the next image)."""
    recorded = dict(ref.hashes)
    entry = ModelEntry(role=ref.role, name=ref.name, strength=ref.strength,
                       strength_clip=ref.strength_clip, folder=ref.folder, node=ref.node,
                       recorded=recorded)
    label = entry.label
    first = _first_hash(recorded)
    try:
        found = session.resolver.resolve(
            name=ref.name, role=ref.role, folder=ref.folder, recorded=recorded,
            hash_candidate=(lambda p, schemes: store_and_hash(session, p, schemes))
            if session.mode in ("copy", "reflink") else None)
    except ReproError as exc:
        return entry, ModelFound(label, "unresolved", recorded_hash=first, detail=str(exc),
                                 roots=_roots(session)), None
    if found.path is None:
        return entry, _not_found(session, label, found, first), None
    path = found.path
    st = path.stat()
    blake3 = store_model(session, path, st, found.hashes.get("blake3"))
    base = base_model(session, path, blake3) if ref.role in ADAPTER_ROLES else None
    rel = session.relpath(path)
    entry = replace(entry, path=rel, blake3=blake3, size=st.st_size,
                    hashes={**found.hashes, "blake3": blake3}, base_model=base,
                    found_by=None if found.how == "name" else found.how)
    again = None
    # Only an answer that carries no hashes of the resolver's (none was recorded) is
    # the same next time: one checked against a recorded hash carries every hash the
    # stat cache knows of the file by then, and a later image may have added one.
    if not found.hashes and session.repo.stat_cache.lookup(path, st).get("blake3") == blake3:
        again = _Resolved(path, _signature(st), label, rel, blake3, st.st_size, base,
                          entry.found_by, found.how)
    return entry, ModelFound(label, found.how, path=rel, recorded_hash=first,
                             modified=_modified(st, out_stat, recorded)), again


def _modified(st: os.stat_result, out_stat: os.stat_result, recorded: dict[str, str]
              ) -> tuple[str, str] | None:
    """``ModelFound.modified``: (file time, output time) when the file may have changed
    after the output was written. A file that matched a hash the image recorded is the
    version used, whatever its times; without one, a file changed after the output may
    not be that version."""
    if recorded or not changed_after(st, out_stat):
        return None
    return iso_time(changed_at(st, out_stat)), iso_time(out_stat.st_mtime)


def changed_after(st: os.stat_result, out_stat: os.stat_result) -> bool:
    """Whether the model file may hold other bytes than when the output was written.

    No slack: a model written a fraction of a second after the output counts. Its
    mtime is compared with the output's mtime; its ctime, which a copy keeping the
    mtime (``cp -p``, ``rsync -a``), a move or a new hardlink sets and nothing can set
    back, with the output's own ctime (when the output arrived where it is: an output
    whose times were set back still has it).
    """
    return st.st_mtime_ns > out_stat.st_mtime_ns or st.st_ctime_ns > out_stat.st_ctime_ns


def changed_at(st: os.stat_result, out_stat: os.stat_result) -> float:
    if st.st_mtime_ns > out_stat.st_mtime_ns:
        return st.st_mtime
    return st.st_ctime


def _not_found(session: Session, label: str, found: Resolved, first: str | None) -> ModelFound:
    repo = session.repo
    if found.mismatch:
        return ModelFound(label, "mismatch", path=repo.relpath(Path(found.mismatch)),
                          recorded_hash=first)
    return ModelFound(label, "missing", recorded_hash=first, roots=_roots(session))


def _roots(session: Session) -> tuple[str, ...]:
    return tuple(session.repo.relpath(r) for r in session.resolver.roots)


def _first_hash(hashes: dict[str, str]) -> str | None:
    for scheme, value in hashes.items():
        return f"{scheme}:{value}"
    return None


def store_model(session: Session, path: Path, st: os.stat_result, known: str | None) -> str:
    """Put a model file into the store; read it at most once, never if already known."""
    repo, mode = session.repo, session.mode
    cache = repo.stat_cache
    prior = cache.lookup(path, st)
    known = known or prior.get("blake3")
    if known is None and mode == "copy" and _may_be_stored(session, prior, st):
        # A stored file of this size was hashed before: most likely these bytes,
        # after a metadata-only change (chmod, a new hardlink, a copy elsewhere).
        # Hashing is one read; copying would also rewrite the whole file.
        known = cache.hashes(path, ("blake3",), st)["blake3"]
    started = time.time_ns()
    byte_progress = None
    if session.progress is not None and st.st_size >= BIG_FILE and not (
            known and (mode == "reference" or known in repo.store)):
        verb = "hashing" if mode == "reference" else "storing"
        byte_progress = _ByteCounter(session.progress, f"{verb} {path.name}", st.st_size)
    had = known is not None and known in repo.store
    oid = repo.store.put_file(path, mode=mode, known=known, progress=byte_progress)
    _note_stored(session, path, st, oid, had=had, started=started)
    if oid != known:
        after = path.stat()
        if (after.st_size, after.st_mtime_ns) == (st.st_size, st.st_mtime_ns):
            cache.store(path, st, {**prior, "blake3": oid}, started)
    return oid


def store_and_hash(session: Session, path: Path, schemes: set[str]) -> dict[str, str]:
    """Every hash of ``schemes`` for a model file found by name, computed in the
    one read that also copies a new file into the store: a recorded hash (A1111's
    ``Model hash``) costs no second read. Cached hashes are used as they are; a
    file that may already be stored (see ``store_model``) is hashed, not copied.
    A file whose hash then does not match the record leaves an object no record
    names, which gc removes after its grace period."""
    from repro.models.hashes import HashTap

    repo, cache = session.repo, session.repo.stat_cache
    st = path.stat()
    prior = cache.lookup(path, st)
    if schemes <= prior.keys() or _may_be_stored(session, prior, st):
        return cache.hashes(path, schemes, st)
    started = time.time_ns()
    tap = HashTap(path, schemes - {"blake3"})
    blake3 = repo.store.put_file(path, mode=session.mode, tap=tap.feed)
    _note_stored(session, path, st, blake3, had=False, started=started)
    computed = {**tap.result(), "blake3": blake3}
    after = path.stat()
    if (after.st_size, after.st_mtime_ns) == (st.st_size, st.st_mtime_ns):
        known = {**prior, **computed}
        for scheme in schemes - computed.keys():
            known.setdefault(scheme, "")  # does not apply (e.g. autov1 of a small file)
        cache.store(path, st, known, started)
    return {k: v for k, v in {**prior, **computed}.items() if v}


def _may_be_stored(session: Session, prior: dict[str, str], st: os.stat_result) -> bool:
    """Whether a file's bytes are likely stored already: the stat cache knows them,
    or a stored file of the same size was hashed before (a metadata-only change)."""
    store, cache = session.repo.store, session.repo.stat_cache
    if prior.get("blake3"):
        return prior["blake3"] in store
    return any(b in store for b in cache.blake3s_of_size(st.st_size))


def _note_stored(session: Session, path: Path, st: os.stat_result, oid: str, *, had: bool,
                 started: int) -> None:
    """Remember a model version this add put into the store (``add`` reports them)."""
    if session.mode != "reference" and not had and oid not in session.stored_models and _new(
            session.repo.store.path(oid), started):
        session.stored_models[oid] = {"name": path.name, "blake3": oid, "size": st.st_size,
                                      "mode": session.mode}


def _new(obj: Path, started_ns: int) -> bool:
    """Whether this add wrote (or linked) the object: its inode changed since we began
    (a linked or written file's ctime moves), or it waits in the batch's temp folder."""
    try:
        return obj.stat().st_ctime_ns >= started_ns - 10_000_000
    except FileNotFoundError:
        return True


def base_model(session: Session, path: Path, blake3: str) -> dict[str, Any] | None:
    """The base checkpoint a LoRA's metadata names (kohya ``ss_*`` keys), found by
    hash among the files repro has hashed when it can be. A version seen before is
    answered from its earlier record: a known model is never opened again."""
    if blake3 not in session.bases:
        repo = session.repo
        earlier = repo.index.last_record_using(blake3)
        if earlier:
            record = repo.load_record(earlier)
            found = next((m.base_model for m in record.models if m.blake3 == blake3), None)
            session.bases[blake3] = dict(found) if found is not None else None
        else:
            session.bases[blake3] = _read_base_model(session, path)
    return session.bases[blake3]


def _read_base_model(session: Session, path: Path) -> dict[str, Any] | None:
    from repro.models.headers import base_model_refs, read_safetensors_header, sniff_model

    try:
        if sniff_model(path) != "safetensors":
            return None
        refs = base_model_refs(read_safetensors_header(path).metadata)
    except ReproError:
        return None
    if not refs:
        return None
    base: dict[str, Any] = {k: v for k, v in refs.items() if k == "name"}
    hashes = {k: v for k, v in refs.items() if k != "name"}
    if hashes:
        base["hashes"] = hashes
    for scheme, value in hashes.items():
        for hit in session.repo.stat_cache.find(scheme, value):
            if "blake3" in hit.hashes:
                base["blake3"] = hit.hashes["blake3"]
                return base
    return base


class _ByteCounter:
    """Adapts byte counts from hashing to the (what, done, total) progress callback."""

    def __init__(self, progress: Progress, what: str, total: int):
        self.progress, self.what, self.total, self.done = progress, what, total, 0

    def __call__(self, n: int) -> None:
        self.done += n
        self.progress(self.what, self.done, self.total)
