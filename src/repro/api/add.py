"""``repro add``: capture outputs as records.

Write order (a crash can only leave unreferenced objects): model, input,
output and metadata objects first, then the record object, then the index
and the tag.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from repro.api.repository import Repository
from repro.capture import read_bytes, read_file
from repro.capture.containers import sniff
from repro.capture.types import Generation, ModelRef, worst_level
from repro.environment.comfyui_server import A1111_TOOLS
from repro.errors import InputError, ReproError
from repro.lineage.record import SCHEMA, Record, canonical_bytes
from repro.models.resolve import Resolved, Resolver
from repro.objects import hashing
from repro.objects.faults import checkpoint

#: Files at least this large get a byte progress bar while they are hashed.
BIG_FILE = 100 * 1024 * 1024

#: Outputs up to this size are read into memory once (images are small).
SMALL_OUTPUT = 64 * 1024 * 1024

#: Files captured per durable commit (see ``ObjectStore.batch``).
BATCH = 256

#: A1111-family outputs decoded at most to find an ``Init image hash`` source.
PIXEL_CANDIDATES = 64

Progress = Callable[[str, int, int], None]
"""Called with (what, done, total)."""


@dataclass
class Live:
    """What a capture at creation time knows beyond the file (``repro watch``).

    ``generation`` replaces what the file's embedded metadata says (e.g. the
    executed prompt from a ComfyUI server's history; the file still gives the
    media type and size); ``environment`` replaces the add's environment;
    ``blobs`` are stored next to the file's own under ``source.blobs``;
    ``reasons`` are added to the record's and ``level`` caps its level;
    ``model_reasons(model_entry, path)`` may add reasons per found model file
    (each one caps the level at approximate).
    """

    generation: Generation | None = None
    environment: dict[str, Any] | None = None
    blobs: dict[str, bytes] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    level: str | None = None
    model_reasons: Callable[[dict[str, Any], Path], list[str]] | None = None


@dataclass
class AddResult:
    records: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"records": self.records, "skipped": self.skipped}


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files named, and files under folders named (sorted, ``.repro`` skipped)."""
    for path in paths:
        if path.is_dir():
            for folder, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if d != ".repro" and not d.startswith("."))
                for name in sorted(files):
                    yield Path(folder) / name
        else:
            yield path


def add(repo: Repository, paths: Iterable[Path], *, parents: Iterable[str] = (),
        message: str | None = None, tag: str | None = None, mode: str | None = None,
        allow_empty: bool = False, environment: dict[str, Any] | None = None,
        progress: Progress | None = None, live: dict[Path, Live] | None = None) -> AddResult:
    """Capture every image under ``paths``. Files that cannot be captured are skipped
    with a reason; a path that does not exist, or a single named file that cannot be
    read, raises ``InputError``. ``live`` gives,
    per file path, what a capture at creation time observed (see ``Live``)."""
    paths = list(paths)
    for path in paths:
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
    mode = mode or repo.config.get("store", "mode")
    result = AddResult()
    files = list(iter_files(paths))
    single = len(paths) == 1 and len(files) == 1 and not paths[0].is_dir()
    parent_ids = [repo.resolve_target(p).id for p in parents]
    with repo.lock():
        capture = _Capture(repo, mode=mode, environment=environment, progress=progress)
        done = 0
        for start in range(0, len(files), BATCH):
            # One durable commit per batch: objects, then records, then the index.
            with repo.store.batch():
                for path in files[start:start + BATCH]:
                    done += 1
                    if progress:
                        progress("capturing", done, len(files))
                    try:
                        entry = capture.file(path, parents=parent_ids, message=message,
                                             allow_empty=allow_empty,
                                             live=(live or {}).get(path))
                    except InputError as exc:
                        if single:
                            raise
                        result.skipped.append({"path": str(path), "reason": str(exc)})
                        continue
                    result.records.append(entry)
                # Journal the records before the batch puts them in place: a crash
                # before the index has them is healed by the next writer (lineage.journal).
                repo.journal.append(r.id for r in capture.pending.values())
            checkpoint("add.stored")
            capture.flush_index()
            repo.journal.clear()
            checkpoint("add.indexed")
        if tag and result.records:
            repo.refs.set_tag(tag, result.records[-1]["id"])
    return result


class _Capture:
    """State shared by the files of one ``add``: resolver, environment, clock."""

    def __init__(self, repo: Repository, *, mode: str, environment: dict[str, Any] | None,
                 progress: Progress | None = None):
        self.repo = repo
        self.progress = progress
        self.mode = mode
        self.resolver = Resolver(repo.config.model_roots, repo.stat_cache)
        self.input_dirs = repo.config.input_dirs
        self.environment = environment
        #: records written in the current batch, not yet in the index, by output BLAKE3
        self.pending: dict[str, Record] = {}
        #: Pixel MD5s decoded so far, by output BLAKE3 (None: not decodable).
        self.decoded: dict[str, str | None] = {}
        self.bases: dict[str, dict[str, Any] | None] = {}
        #: whether outputs need their pixel MD5 (None: not asked the index yet)
        self.pixels_wanted: bool | None = None
        self.host = socket.gethostname()
        self.user: str | None
        try:
            self.user = getpass.getuser()
        except (KeyError, OSError):
            self.user = None

    def file(self, path: Path, *, parents: list[str], message: str | None,
             allow_empty: bool, live: Live | None = None) -> dict[str, Any]:
        repo = self.repo
        # An image is read once: its metadata, hashes and stored copy all come
        # from these bytes, and an output already captured is not parsed again.
        data, out_stat = _read_image(path)
        if data is not None:
            blake3 = hashing.hash_bytes(data)
            known = self.known_output(blake3, path)
            if known is not None:
                return known
            gen = read_bytes(data, name=str(path), sidecar_path=str(path))
        else:  # large, unreadable or not an image: read_file streams it or says why
            gen = read_file(path)
            blake3 = hashing.hash_file(path)
            known = self.known_output(blake3, path)
            if known is not None:
                return known
        out_stat = out_stat or path.stat()
        environment = self.environment
        if live is not None:
            gen = _with_live(gen, live)
            if live.environment is not None:
                environment = live.environment
        if gen.metadata == "none" and not allow_empty:
            raise InputError(f"{path}: no generation metadata to capture",
                             hint="use --allow-empty to capture it as level none")

        levels = [gen.level]
        reasons = list(gen.reasons)
        models = [self.model(ref, out_stat, levels, reasons) for ref in gen.models]
        if live is not None:
            self.live_reasons(live, models, levels, reasons)
        inputs, input_parents = self.inputs(gen, path, levels, reasons)

        sha256 = _sha256(data, path)
        if data is not None:
            repo.store.put_bytes(data, known=blake3)
        elif repo.store.put_file(path) != blake3:
            raise InputError(f"{path}: the file changed while it was captured",
                             hint="capture it again once it is completely written")
        blobs = {key: repo.store.put_bytes(value) for key, value in sorted(gen.blobs.items())}

        all_parents = sorted({*parents, *input_parents})
        level = worst_level(*levels)
        pixels = self.pixels_if_wanted(data if data is not None else path, inputs)
        record: dict[str, Any] = {
            "schema": SCHEMA,
            "output": _drop_none({
                "blake3": blake3, "sha256": sha256, "path": repo.relpath(path),
                "size": out_stat.st_size, "media_type": gen.media_type,
                "width": gen.width, "height": gen.height,
                "mtime": iso_time(out_stat.st_mtime), "pixels_md5": pixels,
            }),
            "tool": _drop_none({"name": gen.tool or "unknown", "version": gen.tool_version,
                                "commit": (environment or {}).get("tool_commit")}),
            "params": gen.params,
            "models": models,
            "inputs": inputs,
            "parents": all_parents,
            "source": _drop_none({"format": gen.format, "formats": gen.formats or None,
                                  "metadata": gen.metadata, "blobs": blobs,
                                  "warnings": gen.warnings or None,
                                  "provenance": gen.provenance or None}),
            "environment": environment,
            "reproducibility": {"level": level, "reasons": list(dict.fromkeys(reasons))},
            "captured": _drop_none({"at": iso_time(time.time()), "host": self.host,
                                    "user": self.user, "store_mode": self.mode}),
            "message": message or "",
        }
        rid = repo.store.put_bytes(canonical_bytes(record), group=1)
        stored = Record(rid, record)
        self.pending[blake3] = stored
        return _summary(stored, path, existing=False)

    def known_output(self, blake3: str, path: Path) -> dict[str, Any] | None:
        """The summary of the record these output bytes already have, if any."""
        if blake3 in self.pending:
            return _summary(self.pending[blake3], path, existing=True)
        existing = self.repo.index.record_for_output(blake3)
        if existing:
            return _summary(self.repo.load_record(existing), path, existing=True)
        return None

    def flush_index(self) -> None:
        """Index the records of the batch just made durable."""
        self.repo.index.add_many(list(self.pending.values()))
        self.pending.clear()

    def by_pixels(self, md5: str) -> tuple[str, str] | None:
        """An output whose decoded pixels have A1111's ``Init image hash``:
        ``(record id, output BLAKE3)``. Looks at most at the newest
        ``PIXEL_CANDIDATES`` A1111-family outputs."""
        from repro.lineage.pixels import is_pixels_md5, pixels_md5

        if not is_pixels_md5(md5):
            return None
        repo = self.repo
        for rid in repo.index.records_with_pixels(md5):
            return rid, repo.load_record(rid).output["blake3"]
        for b, r in reversed(self.pending.items()):
            if r.output.get("pixels_md5") == md5.lower():
                return r.id, b
        candidates = [(r.id, b) for b, r in reversed(self.pending.items())
                      if r.tool_name in A1111_TOOLS and not r.output.get("pixels_md5")]
        candidates += repo.index.recent_outputs(A1111_TOOLS, PIXEL_CANDIDATES)
        for rid, blake3 in candidates[:PIXEL_CANDIDATES]:
            if blake3 not in self.decoded and blake3 in repo.store:
                # Through open(): an output of this batch is still in the store's tmp folder.
                with repo.store.open(blake3) as f:
                    self.decoded[blake3] = pixels_md5(f)
            if self.decoded.get(blake3) == md5.lower():
                return rid, blake3
        return None

    def pixels_if_wanted(self, source: bytes | Path, inputs: list[dict[str, Any]]
                         ) -> str | None:
        """The output's pixel MD5, computed only while a captured img2img waits
        for a source it names by A1111's ``Init image hash``."""
        from repro.lineage.pixels import is_pixels_md5, pixels_md5

        if self.pixels_wanted is None:
            self.pixels_wanted = self.repo.index.waiting_pixel_inputs()
        mine = any(is_pixels_md5((i.get("hashes") or {}).get("sha256")) and not i.get("blake3")
                   for i in inputs)
        if mine:
            self.pixels_wanted = True
            return None
        return pixels_md5(source) if self.pixels_wanted else None

    def output_record(self, blake3: str) -> str | None:
        if blake3 in self.pending:
            return self.pending[blake3].id
        return self.repo.index.record_for_output(blake3)

    def model(self, ref: ModelRef, out_stat: os.stat_result, levels: list[str],
              reasons: list[str]) -> dict[str, Any]:
        entry: dict[str, Any] = _drop_none({
            "role": ref.role, "name": ref.name, "strength": ref.strength,
            "strength_clip": ref.strength_clip, "folder": ref.folder, "node": ref.node,
        })
        hashes = dict(ref.hashes)
        label = f"{ref.role} {ref.name or next(iter(hashes.values()), '?')}"
        try:
            found = self.resolver.resolve(name=ref.name, role=ref.role, folder=ref.folder,
                                          recorded=hashes)
        except ReproError as exc:
            found = Resolved(None, "missing")
            reasons.append(f"{label}: {exc}")
        if found.path is None:
            levels.append("approximate")
            if found.mismatch:
                reasons.append(f"{label}: the file at {self.repo.relpath(Path(found.mismatch))} "
                               "does not match the hash the image recorded, and no file under "
                               "the model roots does")
            elif hashes:
                reasons.append(f"{label}: not found under the model roots; known only by its "
                               f"recorded hash {_first_hash(hashes)}: put the file under a "
                               "model root and run `repro add` again")
            else:
                reasons.append(f"{label}: not found under the model roots "
                               f"({', '.join(self.repo.relpath(r) for r in self.resolver.roots)}); "
                               "known only by name")
            if hashes:
                entry["hashes"] = hashes
            return entry
        path = found.path
        st = path.stat()
        blake3 = self.store_model(path, st, found.hashes.get("blake3"))
        computed = {**found.hashes, "blake3": blake3}
        entry.update(path=self.repo.relpath(path), blake3=blake3, size=st.st_size,
                     hashes={**hashes, **computed})
        if ref.role in ("lora", "hypernetwork", "embedding", "controlnet"):
            base = self.base_model(path, blake3)
            if base:
                entry["base_model"] = base
        if found.how != "name":
            entry["found_by"] = found.how
            reasons.append(f"{label}: not at its expected place; found by "
                           f"{'recorded hash' if found.how == 'hash' else 'file name'} at "
                           f"{self.repo.relpath(path)}")
        if st.st_mtime > out_stat.st_mtime + 1:
            levels.append("approximate")
            reasons.append(f"{label}: the file was modified after the output was made "
                           f"({iso_time(st.st_mtime)} > {iso_time(out_stat.st_mtime)}): the content "
                           "captured may not be the version that was used")
        return entry

    def live_reasons(self, live: Live, models: list[dict[str, Any]], levels: list[str],
                     reasons: list[str]) -> None:
        if live.model_reasons is not None:
            for entry in models:
                if entry.get("path"):
                    found = live.model_reasons(entry, self.repo.abspath(entry["path"]))
                    if found:
                        levels.append("approximate")
                        reasons.extend(found)
        reasons.extend(live.reasons)
        if live.level is not None:
            levels.append(live.level)

    def base_model(self, path: Path, blake3: str) -> dict[str, Any] | None:
        """The base checkpoint a LoRA's metadata names (kohya ``ss_*`` keys), found by
        hash among the files repro has hashed when it can be. A version seen before is
        answered from its earlier record: a known model is never opened again."""
        if blake3 not in self.bases:
            earlier = self.repo.index.records_using([blake3])
            if earlier:
                record = self.repo.load_record(earlier[0])
                self.bases[blake3] = next((m.get("base_model") for m in record.models
                                           if m.get("blake3") == blake3), None)
            else:
                self.bases[blake3] = self._read_base_model(path)
        return self.bases[blake3]

    def _read_base_model(self, path: Path) -> dict[str, Any] | None:
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
            for hit in self.repo.stat_cache.find(scheme, value):
                if "blake3" in hit.hashes:
                    base["blake3"] = hit.hashes["blake3"]
                    return base
        return base

    def store_model(self, path: Path, st: os.stat_result, known: str | None) -> str:
        """Put a model file into the store; read it at most once, never if already known."""
        cache = self.repo.stat_cache
        prior = cache.lookup(path, st)
        known = known or prior.get("blake3")
        started = time.time_ns()
        byte_progress = None
        if self.progress is not None and st.st_size >= BIG_FILE and not (
                known and (self.mode == "reference" or known in self.repo.store)):
            verb = "hashing" if self.mode == "reference" else "storing"
            byte_progress = _ByteCounter(self.progress, f"{verb} {path.name}", st.st_size)
        oid = self.repo.store.put_file(path, mode=self.mode, known=known,
                                       progress=byte_progress)
        if oid != known:
            after = path.stat()
            if (after.st_size, after.st_mtime_ns) == (st.st_size, st.st_mtime_ns):
                cache.store(path, st, {**prior, "blake3": oid}, started)
        return oid

    def inputs(self, gen: Generation, out_path: Path, levels: list[str],
               reasons: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
        repo = self.repo
        entries: list[dict[str, Any]] = []
        parents: list[str] = []
        search = [*self.input_dirs, out_path.parent]
        for ref in gen.inputs:
            entry: dict[str, Any] = _drop_none({"role": ref.role, "name": ref.name,
                                                "node": ref.node})
            hashes = dict(ref.hashes)
            found = _find_input(*_annotated(ref.name, search, repo)) if ref.name else None
            if found is not None:
                # Through the stat cache: an input shared by many outputs is read once.
                got = repo.stat_cache.hashes(found, ("blake3", "sha256"))
                sha256 = got["sha256"]
                if hashes.get("sha256") and not sha256.startswith(hashes["sha256"].lower()):
                    reasons.append(f"input {ref.name}: the file at {repo.relpath(found)} does "
                                   "not match the hash the image recorded")
                    levels.append("approximate")
                    found = None
                else:
                    blake3 = repo.store.put_file(found, known=got["blake3"])
                    hashes.update(sha256=sha256)
                    entry.update(path=repo.relpath(found), blake3=blake3)
                    rid = self.output_record(blake3)
                    if rid:
                        parents.append(rid)
            if found is None and hashes.get("sha256"):
                for rid in repo.index.records_for_output_sha256(hashes["sha256"].lower()):
                    parents.append(rid)
                match = self.by_pixels(hashes["sha256"]) if not parents else None
                if match is not None:
                    parents.append(match[0])
                    entry["blake3"] = match[1]
            if found is None and not any(p for p in parents):
                levels.append("approximate")
                reasons.append(f"input {ref.name or _first_hash(hashes)}: not found "
                               f"(looked in {', '.join(repo.relpath(d) for d in search)})")
            if hashes:
                entry["hashes"] = hashes
            entries.append(entry)
        return entries, parents


def _with_live(gen: Generation, live: Live) -> Generation:
    """The file's generation with what was observed live laid over it."""
    blobs = {**gen.blobs, **live.blobs}
    if live.generation is None:
        return replace(gen, blobs=blobs)
    observed = live.generation
    return replace(observed, blobs={**blobs, **observed.blobs},
                   formats=list(dict.fromkeys([*gen.formats, *observed.formats])),
                   media_type=gen.media_type, width=gen.width, height=gen.height,
                   warnings=list(dict.fromkeys([*observed.warnings, *gen.warnings])),
                   provenance={**gen.provenance, **observed.provenance})


class _ByteCounter:
    """Adapts byte counts from hashing to the (what, done, total) progress callback."""

    def __init__(self, progress: Progress, what: str, total: int):
        self.progress, self.what, self.total, self.done = progress, what, total, 0

    def __call__(self, n: int) -> None:
        self.done += n
        self.progress(self.what, self.done, self.total)


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


def _read_image(path: Path) -> tuple[bytes | None, os.stat_result | None]:
    """An image's bytes when it is small enough to hold (and is an image at all:
    the magic bytes are checked before the rest is read), with its stat; nothing
    when it cannot be opened (``read_file`` then says why)."""
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if st.st_size > SMALL_OUTPUT:
                return None, st
            head = f.read(16)
            if sniff(head) is None:
                return None, st
            return head + f.read(), st
    except OSError:
        return None, None


def _sha256(data: bytes | None, path: Path) -> str:
    if data is not None:
        return hashlib.sha256(data).hexdigest()
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _summary(record: Record, path: Path, *, existing: bool) -> dict[str, Any]:
    repro = record.data.get("reproducibility") or {}
    return {"id": record.id, "path": str(path), "output": record.output.get("blake3"),
            "tool": record.tool_name, "level": repro.get("level"),
            "reasons": repro.get("reasons", []), "existing": existing}


def _first_hash(hashes: dict[str, str]) -> str:
    for scheme, value in hashes.items():
        return f"{scheme}:{value}"
    return "?"


def iso_time(ts: float) -> str:
    """A POSIX time as records spell it: UTC ISO 8601 with milliseconds and ``Z``."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


__all__ = ["AddResult", "Live", "add", "iso_time"]
