"""``repro fsck`` and ``repro gc``.

fsck re-hashes every object and checks every record against the schema, its
objects and the index; it yields problems and never deletes. ``repair``
rebuilds the index and moves corrupt objects aside into ``.repro/corrupt``,
restoring a good copy from a model root when one with the same hash exists.
gc (``repro.api.gc``) removes objects no record, tag or kept file names, once
they are older than the grace period.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from repro.api.repository import Repository
from repro.api.store_walk import IndexedIds, Presence
from repro.errors import ChecksumMismatch, IntegrityError, NotFound
from repro.objects.hashing import Progress
from repro.objects.ids import check_id
from repro.objects.lock import stale_holder
from repro.objects.loose import verify_readonly
from repro.record import Record, SchemaError, from_bytes, is_blake3
from repro.record import check as check_record

#: Anything in a record's bytes that could be an object id.
ANY_ID = re.compile(rb"[0-9a-f]{64}")

KEEP_DIR = "refs/keep"


@dataclass
class Problem:
    kind: str  # corrupt, unreadable, missing, schema, index, readonly, tag, tmp, pack
    message: str
    object: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {"kind": self.kind, "message": self.message}
        if self.object:
            d["object"] = self.object
        return d


def referenced_objects(record: Record) -> Iterator[tuple[str, str]]:
    """(object id, what) for every object a record names and expects in the store."""
    yield record.output.blake3, "output"
    for key, oid in record.source.blobs.items():
        yield oid, f"metadata blob {key}"
    if record.captured.store_mode != "reference":
        for m in record.models:
            if m.blake3:
                yield m.blake3, f"{m.role} {m.name}"
    for i in record.inputs:
        if i.blake3:
            yield i.blake3, f"input {i.name}"


def kept_objects(repo: Repository) -> set[str]:
    """Objects kept on purpose: files ``checkout --force`` displaced, tags, receipts."""
    keep: set[str] = {rid for _, rid in repo.refs.tags()}
    keep.update(repo.receipts.kept())
    folder = repo.dot / KEEP_DIR
    if folder.is_dir():
        for p in folder.iterdir():
            with contextlib.suppress(ValueError):
                keep.add(check_id(p.name))
    return keep


def fsck(repo: Repository, *, progress: Callable[[str, int, int], None] | None = None,
         byte_progress: Progress | None = None) -> Iterator[Problem]:
    """Check every object, record and index row; yield what is wrong. Memory stays
    flat in the size of the store (see ``repro.api.store_walk``)."""
    # "tmp" problems are what a crashed writer leaves and the next one clears:
    # temp files, its lock file, records it stored but had not indexed yet.
    if repo.tmp_dir.is_dir():
        for p in sorted(repo.tmp_dir.iterdir()):
            yield Problem("tmp", f"leftover temp file {p.name} (a crashed write; "
                                 "removed by the next writer or gc)")
    holder = stale_holder(repo.dot / "lock")
    if holder:
        yield Problem("tmp", f"stale lock left by a process that is gone ({holder}); "
                             "the next writer takes it over")
    for bad in repo.refs.damaged():
        yield Problem("tag", f"{bad}: {bad.hint}")
    for name, why in repo.store.damaged_packs().items():
        yield Problem("pack", f"pack {name} is damaged ({why}): the objects in it cannot be "
                              "read; run `repro fsck --repair` to keep those still whole",
                      name)
    total = sum(1 for _ in repo.store) if progress else 0
    unreadable: set[str] = set()
    for n, oid in enumerate(repo.store, 1):
        if progress:
            progress("checking objects", n, total)
        try:
            repo.store.check(oid, byte_progress)
        except ChecksumMismatch as exc:
            yield Problem("corrupt", str(exc), oid)
            continue
        except NotFound:
            continue
        except OSError as exc:  # a folder in its place, no permission: say so, go on
            unreadable.add(oid)
            yield Problem("unreadable", f"object {oid} cannot be read "
                                        f"({exc.strerror or exc}): run `repro fsck --repair`",
                          oid)
            continue
        problem = verify_readonly(repo.store.objects_dir, oid)
        if problem:
            yield Problem("readonly", problem, oid)
    not_read: list[Problem] = []

    def unread(oid: str, why: str) -> None:
        if oid not in unreadable:
            not_read.append(Problem("schema", f"object {oid} may be a record but is {why}; "
                                              "gc keeps it and every id it names", oid))

    present = Presence(repo, unreadable)
    indexed = IndexedIds(repo)
    for rid, data in repo.iter_record_bytes(unread):
        try:
            raw = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            yield Problem("schema", f"record {rid}: not readable JSON ({exc})", rid)
            continue
        for problem in check_record(raw):
            yield Problem("schema", f"record {rid}: {problem}", rid)
        try:
            record = from_bytes(data, id=rid)
        except SchemaError:
            continue
        indexed.see(rid)
        for ref, what in referenced_objects(record):
            if is_blake3(ref) and ref not in present:
                yield Problem("missing", f"record {record.id}: {what} object {ref} is missing",
                              ref)
        for parent in record.parent_ids:
            if is_blake3(parent) and parent not in present:
                yield Problem("missing", f"record {record.id}: parent record {parent} is missing",
                              parent)
    yield from not_read
    only_indexed = indexed.rest()
    try:
        if indexed.error is not None:
            raise indexed.error  # the index's ids could not be read: as below
        check = repo.index.conn.execute("PRAGMA quick_check").fetchone()
    except (IntegrityError, sqlite3.DatabaseError) as exc:
        yield Problem("index", f"index unreadable ({exc}): run `repro fsck --repair`")
        return
    if check is None or check[0] != "ok":
        yield Problem("index", f"index damaged ({check[0] if check else 'no answer'}): "
                               "run `repro fsck --repair`")
    journaled = set(repo.journal.pending())
    for rid in indexed.not_indexed:
        if rid in journaled:
            yield Problem("tmp", f"record {rid} was stored by a writer that stopped before "
                                 "indexing it; the next writer indexes it", rid)
            continue
        yield Problem("index", f"record {rid} is not in the index: run `repro fsck --repair`", rid)
    for rid in only_indexed:
        yield Problem("index", f"index names record {rid} that is not in the store: "
                               "run `repro fsck --repair`", rid)


def _index_healthy(repo: Repository) -> bool:
    try:
        row = repo.index.conn.execute("PRAGMA quick_check").fetchone()
    except (IntegrityError, sqlite3.DatabaseError):
        return False
    return row is not None and row[0] == "ok"


def _heal_sources(repo: Repository, wanted: set[str]) -> dict[str, str]:
    """A file with the bytes of each wanted object, where one is found: the model
    roots, then the paths records give for their outputs, inputs and models."""
    from repro.models.roots import iter_model_files

    good: dict[str, str] = {}
    if not wanted:
        return good
    for path, _st in iter_model_files(repo.config.model_roots):
        b3 = repo.stat_cache.hashes(path, ("blake3",)).get("blake3")
        if b3 in wanted:
            good[b3] = str(path)
    candidates: dict[str, set[str]] = {}
    for record in repo.iter_record_objects():
        entries = [(record.output.blake3, record.output.path),
                   *((i.blake3, i.path) for i in record.inputs),
                   *((m.blake3, m.path) for m in record.models)]
        for oid, recorded in entries:
            if oid in wanted and oid not in good and recorded:
                candidates.setdefault(oid, set()).add(recorded)
    for oid, paths in candidates.items():
        for recorded in sorted(paths):
            path = repo.abspath(recorded)
            with contextlib.suppress(OSError, ValueError):
                if path.is_file() and \
                        repo.stat_cache.hashes(path, ("blake3",)).get("blake3") == oid:
                    good[oid] = str(path)
                    break
    return good


def _records_named(repo: Repository, oids: list[str]) -> dict[str, dict[str, Any]]:
    """What the index knows of the records among ``oids`` (nothing when it is damaged)."""
    try:
        return repo.index.summaries(oids)
    except (IntegrityError, sqlite3.DatabaseError):
        return {}


def repair(repo: Repository, problems: list[Problem]) -> list[str]:
    """Fix what can be fixed without losing anything. Returns what was done."""
    done = []
    corrupt = [p.object for p in problems if p.kind == "corrupt" and p.object]
    missing = {p.object for p in problems if p.kind == "missing" and p.object}
    unreadable = [p.object for p in problems if p.kind == "unreadable" and p.object]
    with repo.lock():
        # Which damaged objects are records, while the index still says so.
        lost = _records_named(repo, [*corrupt, *unreadable])
        # The index first: the stat cache used below lives in it.
        if not _index_healthy(repo):
            repo.close()
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    (repo.dot / f"index.sqlite{suffix}").unlink()
            done.append("removed the damaged index")
        for name in [p.object for p in problems if p.kind == "pack" and p.object]:
            aside = repo.dot / "corrupt"
            aside.mkdir(exist_ok=True)
            dest = aside / f"{name}.{time.time_ns()}"
            kept = repo.store.salvage_pack(name, dest)
            done.append(f"moved damaged pack {name} to {repo.relpath(dest)}, keeping the "
                        f"{kept} object(s) still whole in a new pack")
        for oid in unreadable:
            path = repo.store.path(oid)
            if path.is_file():  # no permission: objects are ours, read-only
                with contextlib.suppress(OSError):
                    os.chmod(path, 0o444)
                try:
                    with open(path, "rb") as f:
                        f.read(1)
                    done.append(f"made {oid} readable again")
                except OSError as exc:
                    done.append(f"could not read object {oid} ({exc.strerror or exc}); "
                                "left in place")
            else:
                corrupt.append(oid)  # a folder or other non-file: moved aside below
        wanted = set(corrupt) | missing
        good = _heal_sources(repo, wanted)
        if corrupt:
            aside = repo.dot / "corrupt"
            aside.mkdir(exist_ok=True)
            for oid in corrupt:
                # A unique name: moving aside never overwrites an earlier corrupt copy.
                dest = aside / f"{oid}.{time.time_ns()}"
                repo.store.set_aside(oid, dest)
                done.append(f"moved corrupt object {oid} to {repo.relpath(dest)}")
                if oid in lost:
                    was = lost[oid].get("path") or "an output"
                    done.append(f"lost record {oid} (of {was}): its damaged bytes are in "
                                f"{repo.relpath(dest)}; capture {was} again with `repro add`")
        for oid in sorted(wanted & good.keys()):
            if repo.store.put_file(good[oid], mode="copy") == oid:
                done.append(f"restored {oid} from {good[oid]}")
        for p in problems:
            if p.kind == "readonly" and p.object:
                with contextlib.suppress(OSError):
                    os.chmod(repo.store.path(p.object), 0o444)
                    done.append(f"made {p.object} read-only again")
        n = repo.rebuild_index()
        repo.journal.clear()
        done.append(f"rebuilt the index ({n} records)")
        removed = repo.clean_tmp()
        if removed:
            done.append(f"removed {removed} leftover temp file(s)")
    return done


@dataclass
class FsckResult:
    problems: list[Problem] = field(default_factory=list)
    #: What ``repair`` did (it ran when this is not empty).
    repaired: list[str] = field(default_factory=list)
    #: Records indexed, when only the index was rebuilt.
    rebuilt: int | None = None

    @property
    def ok(self) -> bool:
        """Nothing left to fix: no problem but leftover temp files (which the next
        writer removes), or every problem went through ``repair``."""
        return bool(self.repaired) or all(p.kind == "tmp" for p in self.problems)

    def to_dict(self) -> dict[str, Any]:
        if self.rebuilt is not None:
            return {"problems": [], "rebuilt": self.rebuilt}
        return {"problems": [p.to_dict() for p in self.problems], "repaired": self.repaired}


def check_repository(repo: Repository, *, repair: bool = False, rebuild_index: bool = False,
                     progress: Callable[[str, int, int], None] | None = None) -> FsckResult:
    """``repro fsck``: every problem ``fsck`` finds, then, with ``repair``, what
    ``repair`` did about them; with ``rebuild_index``, only rebuild the index."""
    if rebuild_index:
        with repo.lock():
            return FsckResult(rebuilt=repo.rebuild_index())
    problems = list(fsck(repo, progress=progress))
    return FsckResult(problems, _repair(repo, problems) if repair else [])


_repair = repair  # check_repository's keyword ``repair`` (the option's name) hides it
