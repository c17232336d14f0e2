"""Opening, creating and finding a repository (the ``.repro`` folder)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from repro.config import Config, load_config
from repro.errors import AmbiguousTarget, IntegrityError, NotARepository, NotFound, UsageError
from repro.lineage.index import Index, connect
from repro.lineage.journal import Journal
from repro.lineage.refs import Refs
from repro.lineage.thumbnails import Thumbnails
from repro.objects.atomic import write_bytes
from repro.objects.hashing import hash_file
from repro.objects.ids import check_id
from repro.objects.lock import owner_gone, owner_tag, write_lock
from repro.objects.statcache import StatCache
from repro.objects.store import ObjectStore
from repro.record import Record, SchemaError, from_bytes, looks_like_record, normalise_hash
from repro.record.codec import MAX_RECORD_BYTES

if TYPE_CHECKING:
    from repro.lineage.receipts import Receipts

DOT = ".repro"
FORMAT = 1


#: Files at least this large get a byte progress bar while read (hashed, copied).
BIG_FILE = 100 * 1024 * 1024

Progress = Callable[[str, int, int], None]
"""Called with (what, done, total)."""


class ByteProgress:
    """Adapts byte counts (hashing, copying) to a (what, done, total) progress callback."""

    def __init__(self, progress: Progress, what: str, total: int):
        self.progress, self.what, self.total, self.done = progress, what, total, 0

    def __call__(self, n: int) -> None:
        self.done = min(self.done + n, self.total)
        self.progress(self.what, self.done, self.total)

    @classmethod
    def for_file(cls, progress: Progress | None, what: str, size: int) -> ByteProgress | None:
        """A byte counter when the file is big enough to be worth one, else None."""
        return cls(progress, what, size) if progress is not None and size >= BIG_FILE else None


def _disk_full(folder: Path) -> bool:
    """Whether the file system of ``folder`` has (almost) no room left."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < 1024 * 1024


class Repository:
    """A project with a ``.repro`` folder: config, object store, index, refs."""

    def __init__(self, root: Path, *,
                 overrides: Mapping[str, Mapping[str, Any]] | None = None):
        self.root = root
        #: Settings that win over the config files (``load_config``'s ``overrides``).
        self.overrides = overrides
        self.dot = root / DOT
        self.tmp_dir = self.dot / "tmp"
        self.store = ObjectStore(self.dot / "objects", self.tmp_dir)
        self.refs = Refs(self.dot / "refs", self.tmp_dir)
        self.thumbs = Thumbnails(self.dot / "thumbs", self.store)
        self.journal = Journal(self.dot / "journal")
        self.notify: Callable[[str], None] | None = None
        #: Where long reads report (hashing a big model file): set by the CLI.
        self.progress: Progress | None = None
        #: The index is a copy in memory (a read-only store, a full disk): what is
        #: written to it is not kept.
        self.index_is_copy = False

    @cached_property
    def receipts(self) -> Receipts:
        """Rerun receipts, made when first asked for: most commands (``add``) never
        read them, and their module imports the receipt types."""
        from repro.lineage.receipts import Receipts

        return Receipts(self.dot / "refs", self.tmp_dir, self.store)

    # -- creation and discovery ----------------------------------------------

    @classmethod
    def init(cls, path: Path) -> Repository:
        root = path.resolve()
        dot = root / DOT
        if (dot / "repo.json").exists():
            raise UsageError(f"{root} already has a repository ({dot})")
        root.mkdir(parents=True, exist_ok=True)
        for sub in ("objects", "refs/tags", "tmp"):
            (dot / sub).mkdir(parents=True, exist_ok=True)
        meta = {"format": FORMAT, "hash": "blake3",
                "created": datetime.now(UTC).isoformat(timespec="seconds")}
        write_bytes(dot / "repo.json", orjson.dumps(meta, option=orjson.OPT_INDENT_2) + b"\n",
                    tmp_dir=dot / "tmp")
        return cls(root)

    @classmethod
    def discover(cls, start: Path, *,
                 overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Repository:
        """The nearest repository at or above ``start`` (as git finds ``.git``);
        ``overrides`` win over its config files (``{"lock": {"timeout": 5.0}}``)."""
        here = start.resolve()
        for candidate in (here, *here.parents):
            if (candidate / DOT / "repo.json").is_file():
                repo = cls(candidate, overrides=overrides)
                repo._check_format()
                return repo
        raise NotARepository(f"not in a repro repository (no {DOT} in {here} or above)")

    def _check_format(self) -> None:
        try:
            meta = orjson.loads((self.dot / "repo.json").read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise IntegrityError(f"{self.dot / 'repo.json'} is unreadable: {exc}") from None
        if meta.get("format") != FORMAT or meta.get("hash") != "blake3":
            raise UsageError(f"{self.dot} has format {meta.get('format')!r}; "
                             f"this repro reads format {FORMAT}")

    # -- parts opened on demand (commands import and open only what they use) --

    @cached_property
    def config(self) -> Config:
        config = load_config(self.root, overrides=self.overrides)
        comfy = config.path("comfyui", "root")
        if comfy is not None:
            from repro.environment.extra_paths import comfyui_extra_model_roots

            config.extra_model_roots = comfyui_extra_model_roots(comfy)
        for warning in config.warnings:
            if self.notify:
                self.notify(f"warning: {warning}")
        return config

    @cached_property
    def conn(self) -> sqlite3.Connection:
        path = self.dot / "index.sqlite"
        if not os.access(self.dot, os.W_OK):
            self.index_is_copy = True
            return self._read_only_index(path)
        # Missing, or truncated to nothing (SQLite would take that for a new, empty
        # database and every look-up would answer "not captured"): rebuilt.
        try:
            fresh = path.stat().st_size == 0
        except FileNotFoundError:
            fresh = True
        try:
            conn = connect(path)
            index = Index(conn)
            marker = conn.execute("SELECT value FROM meta WHERE key = 'rebuilding'").fetchone()
        except sqlite3.OperationalError:
            if not _disk_full(self.dot):
                raise  # locked...: not damage
            # Opening in WAL mode writes (-wal, -shm): on a full disk, read a copy.
            self.index_is_copy = True
            if self.notify:
                self.notify("the disk is full: the index is read from a copy in memory")
            return self._read_only_index(path)
        except sqlite3.DatabaseError as exc:
            raise IntegrityError(f"the index {path} is damaged ({exc})",
                                 hint="run `repro fsck --repair` to rebuild it from the objects"
                                 ) from None
        # stale: written by another index version; interrupted: a rebuild was cut
        # short (its process is gone; a live one is still at it and is left alone)
        interrupted = marker is not None and owner_gone(str(marker[0]))
        if fresh or index.stale or interrupted:
            self._rebuild(index)
        return conn

    def _read_only_index(self, path: Path) -> sqlite3.Connection:
        """The index of a store that cannot be written (a read-only mount, a
        teammate's store), as a copy in memory: of the file when it is whole and
        current, else built from the objects. Nothing is written to the store."""
        wal = path.with_name(path.name + "-wal")
        memory = sqlite3.connect(":memory:", isolation_level=None)
        try:
            # immutable: no lock, no -shm; only when no WAL holds rows the file lacks.
            if path.stat().st_size > 0 and not (wal.exists() and wal.stat().st_size > 0):
                source = sqlite3.connect(f"{path.as_uri()}?mode=ro&immutable=1", uri=True,
                                         isolation_level=None)
                try:
                    source.backup(memory)
                finally:
                    source.close()
                index = Index(memory)
                busy = memory.execute("SELECT 1 FROM meta WHERE key = 'rebuilding'").fetchone()
                if not index.stale and busy is None:
                    return memory
        except (OSError, sqlite3.DatabaseError):
            pass
        memory.close()
        memory = sqlite3.connect(":memory:", isolation_level=None)
        Index(memory).load(self.iter_record_objects())
        if self.notify:
            self.notify("the store is read-only: its index was rebuilt in memory")
        return memory

    @cached_property
    def index(self) -> Index:
        return Index(self.conn)

    @cached_property
    def stat_cache(self) -> StatCache:
        return StatCache(self.conn, self._compute_hashes)

    def _compute_hashes(self, path: Path, schemes: set[str]) -> dict[str, str]:
        report = ByteProgress.for_file(self.progress, f"hashing {path.name}",
                                       path.stat().st_size)
        if schemes <= {"blake3"}:
            return {"blake3": hash_file(path, report)}
        from repro.models.hashes import compute_hashes

        return compute_hashes(path, schemes, progress=report)

    def close(self) -> None:
        if "conn" in self.__dict__:
            self.conn.close()
            del self.__dict__["conn"]
            self.__dict__.pop("index", None)
            self.__dict__.pop("stat_cache", None)

    @contextlib.contextmanager
    def lock(self, timeout: float | None = None) -> Iterator[None]:
        if timeout is None:
            timeout = float(self.config.get("lock", "timeout"))
        with write_lock(self.dot / "lock", timeout=timeout, notify=self.notify):
            self.clean_tmp()
            # A damaged index is for `fsck --repair` (which runs under this lock) to rebuild;
            # one read from a copy (a full disk) leaves the journal for the next writer.
            with contextlib.suppress(IntegrityError):
                self.replay_journal()
            yield

    def replay_journal(self) -> int:
        """Index the records a crashed writer stored but did not index (under the lock)."""
        n = 0
        pending = list(self.journal.pending())
        if pending:
            _ = self.conn  # opened first: on a full disk it is a copy in memory,
            if self.index_is_copy:  # and the journal is left for the next writer
                return 0
        for rid in pending:
            if rid not in self.store or self.index.ids_with_prefix(rid, 1):
                continue
            try:
                data = self.store.read_bytes(rid)
            except (IntegrityError, NotFound):
                continue  # damaged: fsck reports it
            if looks_like_record(data):
                with contextlib.suppress(orjson.JSONDecodeError, SchemaError):
                    self.index.add(from_bytes(data, id=rid))
                    n += 1
        self.journal.clear()
        if n and self.notify:
            self.notify(f"indexed {n} record(s) that an interrupted writer had stored")
        return n

    def clean_tmp(self) -> int:
        """Remove temp files a crashed writer left (only ever called under the lock)."""
        removed = 0
        if self.tmp_dir.is_dir():
            for p in self.tmp_dir.iterdir():
                with contextlib.suppress(OSError):
                    p.unlink()
                    removed += 1
        return removed

    # -- records -----------------------------------------------------------------

    def load_record(self, record_id: str) -> Record:
        try:
            data = self.store.read_bytes(record_id)
        except NotFound:
            raise NotFound(f"record {record_id} is not in the store",
                           hint="run `repro fsck`") from None
        except ValueError:
            raise IntegrityError(f"{str(record_id)[:80]!r} is not a record id",
                                 hint="run `repro fsck`") from None
        try:
            return from_bytes(data, id=record_id)
        except (orjson.JSONDecodeError, SchemaError) as exc:
            raise IntegrityError(f"record {record_id} is not a readable record: {exc}") from None

    def iter_record_objects(self) -> Iterator[Record]:
        """Every readable record among the objects (slow: reads each small object)."""
        for oid, data in self.iter_record_bytes():
            with contextlib.suppress(orjson.JSONDecodeError, SchemaError):
                yield from_bytes(data, id=oid)

    def iter_record_bytes(self, unread: Callable[[str, str], None] | None = None
                          ) -> Iterator[tuple[str, bytes]]:
        """(id, bytes) of every object that looks like a record, readable or not.
        Records are never larger than ``MAX_RECORD_BYTES`` (``add`` refuses one).

        An object that may be a record but was not read (over the bound, or one
        that cannot be opened: a folder, no permission) is told to ``unread(id,
        why)``: a caller that deletes must keep it, and what it might name."""
        for oid in self.store:
            try:
                size = self.store.size(oid)
                if size > MAX_RECORD_BYTES:
                    with self.store.open(oid) as f:
                        if f.read(1) == b"{" and unread:
                            unread(oid, f"{size:,} bytes, over the {MAX_RECORD_BYTES:,} a "
                                        "record may hold: not read")
                    continue
                with self.store.open(oid) as f:
                    if f.read(1) != b"{":
                        continue
                    data = b"{" + f.read()
            except NotFound:
                continue
            except OSError as exc:
                if unread:
                    unread(oid, f"unreadable ({exc.strerror or exc})")
                continue
            if looks_like_record(data):
                yield oid, data

    def _rebuild(self, index: Index) -> int:
        # Marked, so that an index whose rebuild was cut short is rebuilt on the next open.
        index.conn.execute("INSERT OR REPLACE INTO meta VALUES ('rebuilding', ?)",
                           (owner_tag(),))
        index.clear()
        # One transaction: per-record commits made a 100,000-record rebuild take minutes.
        n = index.load(self.iter_record_objects())
        index.conn.execute("DELETE FROM meta WHERE key = 'rebuilding'")
        return n

    def rebuild_index(self) -> int:
        """Recreate the derived index from the record objects."""
        return self._rebuild(self.index)

    def resolve_target(self, target: str, *, cwd: Path | None = None) -> Record:
        """A record named by an output path, a record id or prefix (6+ hex), or a tag."""
        cwd = cwd or Path.cwd()
        tag = self.refs.get_tag(target)
        if tag:
            return self.load_record(tag)
        path = (cwd / target)
        if path.is_file():
            blake3 = self.stat_cache.hashes(path.resolve(), ("blake3",))["blake3"]
            rid = self.index.record_for_output(blake3)
            if rid is None:
                raise NotFound(f"{target} has not been captured",
                               hint=f"run `repro add {target}`")
            return self.load_record(rid)
        lowered = normalise_hash(target, min_length=6) or ""
        if 6 <= len(lowered) <= 64:
            if len(lowered) == 64:
                with contextlib.suppress(ValueError):
                    check_id(lowered)
                    if lowered in self.store:
                        return self.load_record(lowered)
            ids = self.index.ids_with_prefix(lowered)
            if len(ids) > 1:
                raise AmbiguousTarget(f"{target} names several records")
            if ids:
                return self.load_record(ids[0])
        # A path that no longer exists on disk may still be a recorded output path.
        rel = self.relpath(path.resolve() if not os.path.isabs(target) else Path(target))
        ids = self.index.records_for_path(rel)
        if ids:
            return self.load_record(ids[0])
        raise NotFound(f"no record, tag or file named {target!r}",
                       hint="give an output path, a record id (6+ hex digits) or a tag")

    def relpath(self, path: Path) -> str:
        """A path as records spell it: relative to the project root when inside it."""
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(path.resolve())

    def abspath(self, recorded: str) -> Path:
        p = Path(recorded)
        return p if p.is_absolute() else self.root / p
