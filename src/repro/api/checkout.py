"""``repro checkout``: put the recorded model versions (and inputs) back.

Safety rules, whatever a record says (it may come from someone else's store):
files are written only inside the model roots (or ``--to DIR``), never
through ``..``, absolute paths or symlinks leading out; a file whose content
differs is never overwritten without ``force``, and with ``force`` it is
first stored, so nothing is lost.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from repro.api.repository import ByteProgress, Progress, Repository
from repro.api.server_cache import LoaderCache, loader_cache
from repro.errors import ConflictError, IntegrityError, UnsafePath
from repro.models.roots import safe_relative
from repro.objects import nofollow
from repro.objects.faults import checkpoint
from repro.objects.ids import check_id
from repro.record import InputEntry, ModelEntry, Record


@dataclass
class CheckoutResult:
    restored: list[dict[str, Any]] = field(default_factory=list)
    unchanged: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    displaced: list[dict[str, Any]] = field(default_factory=list)
    unavailable: list[dict[str, Any]] = field(default_factory=list)
    #: model versions (object ids) fetched from a remote because the store lacked them
    fetched: list[str] = field(default_factory=list)
    #: after models were restored for a ComfyUI record: what its server may still hold
    server: LoaderCache | None = None

    @property
    def nothing_restored(self) -> bool:
        """Whether some file was wanted but none is (or would be) in place as recorded."""
        return bool(self.unavailable) and not (self.restored or self.unchanged)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"restored": self.restored, "unchanged": self.unchanged,
                             "conflicts": self.conflicts, "displaced": self.displaced,
                             "unavailable": self.unavailable, "fetched": self.fetched}
        if self.server is not None:
            d.update(server=self.server.url, freed=self.server.freed, notes=[self.server.note])
        return d


def plan_destination(repo: Repository, recorded_path: str, *, to: Path | None,
                     roots: list[Path]) -> Path:
    """Where a recorded path may be written, or ``UnsafePath``."""
    return destination(repo, recorded_path, to=to, roots=roots)[1]


def destination(repo: Repository, recorded_path: str, *, to: Path | None,
                roots: list[Path]) -> tuple[Path, Path]:
    """(the root it is under, where a recorded path may be written), or ``UnsafePath``."""
    if "\0" in recorded_path:
        raise UnsafePath(f"refusing to write {recorded_path!r}: it holds a NUL byte")
    rel = safe_relative(recorded_path) if not Path(recorded_path).is_absolute() else None
    if to is not None:
        if rel is None:
            rel = PurePosixPath(Path(recorded_path).name)
        dest = to / rel
        _check_inside(dest, to, recorded_path)
        return to, dest
    dest = Path(recorded_path) if rel is None else repo.root / rel
    for root in roots:
        if _inside_lexically(dest, root):
            _check_inside(dest, root, recorded_path)
            return root, dest
    raise UnsafePath(f"refusing to write {recorded_path!r}: it is outside the model roots",
                     hint="use --to DIR to restore it elsewhere")


def _inside_lexically(path: Path, root: Path) -> bool:
    try:
        path.absolute().relative_to(root.absolute())
    except ValueError:
        return False
    return True


def _check_inside(dest: Path, root: Path, what: str) -> None:
    """No symlink on the way may lead out of ``root``."""
    real_root = root.resolve()
    probe = dest
    # The file itself may not exist yet: resolve its nearest existing ancestor. A root
    # that does not exist yet (``--to NEW_DIR``) holds nothing that could lead out.
    while not probe.exists() and not probe.is_symlink() and probe != probe.parent:
        if probe == root:
            return
        probe = probe.parent
    try:
        probe.resolve().relative_to(real_root)
    except ValueError:
        raise UnsafePath(f"refusing to write {what!r}: a symlink leads outside "
                         f"{root}") from None
    if dest.is_symlink():
        raise UnsafePath(f"refusing to write {what!r}: the destination is a symlink")


def keep_object(repo: Repository, oid: str, note: str) -> None:
    """Protect an object no record names (a displaced file) from gc."""
    from repro.objects.atomic import write_bytes

    folder = repo.dot / "refs" / "keep"
    folder.mkdir(parents=True, exist_ok=True)
    write_bytes(folder / check_id(oid), (note + "\n").encode(), tmp_dir=repo.tmp_dir)


def _in_place(repo: Repository, recorded_path: str, blake3: str, *, to: Path | None,
              roots: list[Path]) -> Path | None:
    """The destination of a recorded file when it already holds the recorded bytes."""
    try:
        dest = plan_destination(repo, recorded_path, to=to, roots=roots)
    except UnsafePath:
        return None
    if dest.is_file() and repo.stat_cache.hashes(dest, ("blake3",))["blake3"] == blake3:
        return dest
    return None


def _items(record: Record, *, models: bool, inputs: bool, output: bool
           ) -> list[tuple[dict[str, Any], str | None, str | None]]:
    """What a checkout restores: (label, blake3, recorded path) of each file."""
    entries: list[tuple[str, ModelEntry | InputEntry]] = []
    if models:
        entries += [("model", m) for m in record.models]
    if inputs:
        entries += [("input", i) for i in record.inputs]
    items = [({"kind": kind, "role": e.role, "name": e.name}, e.blake3, e.path)
             for kind, e in entries]
    if output:
        path = record.output.path
        items.append(({"kind": "output", "role": "output",
                       "name": PurePosixPath(path).name if path else None},
                      record.output.blake3, path))
    return items


def _obtain(repo: Repository, blake3: str, result: CheckoutResult, *,
            dry_run: bool) -> dict[str, str] | None:
    """How a version the store lacks is had: fetched now from a remote that has it
    (``{}``); in a dry run, the remote that would be asked, as its index said at the
    last sync (``{"from_remote": NAME}``); None when there is nowhere to get it."""
    if dry_run:
        from repro.api.where import Locator

        remotes = Locator(repo).remotes_with(blake3)
        return {"from_remote": remotes[0]} if remotes else None
    got = fetch_missing(repo, [blake3])
    result.fetched += got
    return {} if got else None


def fetch_missing(repo: Repository, oids: list[str]) -> list[str]:
    """Bring objects the local store lacks from the remotes that have them (in the order
    ``remote list`` gives), each checked against its hash before it enters the store;
    returns those fetched. A remote that does not answer is passed over with a warning
    (the caller reports what is still missing). A remote that returned wrong bytes is
    an error (exit 11) unless another remote gave the right ones: nothing was stored
    from it, and a checkout or rerun must not go on as if it had merely been offline."""
    from repro.api.remote import index_path, list_remotes, named_remote, open_remote
    from repro.errors import RemoteError, RemoteIntegrity
    from repro.remote import fetch

    wanted = [o for o in dict.fromkeys(oids) if o not in repo.store]
    missing, wrong = list(wanted), None
    for spec in list_remotes(repo):
        if not missing:
            break
        try:
            with named_remote(spec.name):
                fetch.fetch_objects(repo.store, open_remote(spec), missing,
                                    cache=index_path(repo, spec.name))
        except RemoteIntegrity as exc:
            wrong = wrong or RemoteIntegrity(f"remote {spec.name}: {exc}")
        except RemoteError as exc:
            if repo.notify:
                repo.notify(f"warning: remote {spec.name}: {exc}")
        missing = [o for o in missing if o not in repo.store]
    if wrong is not None and missing:
        raise wrong
    return [o for o in wanted if o not in missing]


def checkout(repo: Repository, record: Record, *, to: Path | None = None, force: bool = False,
             dry_run: bool = False, inputs: bool = False, output: bool = False,
             models: bool = True, mode: str | None = None,
             progress: Progress | None = None, comfyui: str | None = None,
             free: bool = False) -> CheckoutResult:
    """Restore the recorded versions; ``mode`` (default: config store.mode) says how:
    a copy, a reflink clone, or a hardlink to the stored object (reference mode
    stores nothing, so it restores by copy). ``inputs`` adds the recorded input
    images, ``output`` the output file itself (a deleted or overwritten output is
    brought back from the store, to its recorded place in the project);
    ``models=False`` leaves the models out. ``progress`` hears the bytes of big files.
    When model files of a ComfyUI record were restored, ``server`` says what the server
    (``comfyui`` or ``[comfyui] url``) may still hold; with ``free`` it is asked to
    unload its models (``POST /free``)."""
    from repro.api.server_cache import free_server, require_server, server_url

    url = server_url(repo, comfyui)
    if free:
        require_server(url)
    if dry_run:  # readers never wait for the lock
        return _decide(repo, record, to=to, force=force, dry_run=True, inputs=inputs,
                       output=output, models=models)[0]
    mode = mode or repo.config.get("store", "mode")
    # Decided under the lock, and written without following symlinks: what was
    # checked is what is written (a folder swapped meanwhile is refused).
    with repo.lock():
        result, writes = _decide(repo, record, to=to, force=force, dry_run=False,
                                 inputs=inputs, output=output, models=models)
        for w in writes:
            _write(repo, w, mode, result, progress)
    if any(e.get("kind") == "model" for e in result.restored):
        if free:
            url = free_server(repo, url)
        result.server = loader_cache(record, url, freed=free, verb="checkout")
    return result


@dataclass
class _Write:
    entry: dict[str, Any]
    blake3: str
    root: Path
    dest: Path
    #: The content and inode found there when decided (None: the name was free).
    displaced_now: str | None
    inode: tuple[int, int] | None


def _decide(repo: Repository, record: Record, *, to: Path | None, force: bool, dry_run: bool,
            inputs: bool, output: bool, models: bool) -> tuple[CheckoutResult, list[_Write]]:
    result = CheckoutResult()
    roots = repo.config.model_roots
    plan: list[tuple[dict[str, Any], str, Path, Path]] = []
    for label, blake3, recorded_path in _items(record, models=models, inputs=inputs,
                                               output=output):
        if not blake3 or not recorded_path:
            result.unavailable.append({**label, "reason": "not identified by content"})
            continue
        try:
            blake3 = check_id(blake3)
        except ValueError:
            raise IntegrityError(f"record {record.id}: {label['name']!r} names "
                                 f"{str(blake3)[:80]!r}, which is not an object id") from None
        allowed = roots if label["kind"] == "model" else [*roots, *repo.config.input_dirs,
                                                          repo.root]
        if blake3 not in repo.store:
            # Not stored (reference mode), yet perhaps still in place as recorded.
            in_place = _in_place(repo, recorded_path, blake3, to=to, roots=allowed)
            if in_place is not None:
                result.unchanged.append({**label, "path": repo.relpath(in_place),
                                         "blake3": blake3})
                continue
            source = _obtain(repo, blake3, result, dry_run=dry_run)
            if source is None:
                result.unavailable.append({**label, "blake3": blake3,
                                           "reason": "the recorded version is not in the store"})
                continue
            label = {**label, **source}
        root, dest = destination(repo, recorded_path, to=to, roots=allowed)
        plan.append((label, blake3, root, dest))

    # Decide everything before writing anything: conflicts stop the whole checkout.
    writes: list[_Write] = []
    for label, blake3, root, dest in plan:
        entry = {**label, "path": repo.relpath(dest), "blake3": blake3}
        if dest.is_file():
            st = dest.lstat()
            now = repo.stat_cache.hashes(dest, ("blake3",))["blake3"]
            if now == blake3:
                result.unchanged.append(entry)
                continue
            if not force:
                result.conflicts.append({**entry, "now": now})
                continue
            writes.append(_Write(entry, blake3, root, dest, now, (st.st_dev, st.st_ino)))
        elif dest.exists():
            result.conflicts.append({**entry, "now": None, "reason": "not a regular file"})
        else:
            writes.append(_Write(entry, blake3, root, dest, None, None))
    if result.conflicts and not dry_run:
        first = result.conflicts[0]
        raise ConflictError(f"{first['path']} has other content than the recorded version "
                            f"({len(result.conflicts)} file(s) would be overwritten)")
    if dry_run:
        result.restored = [w.entry for w in writes]
    return result, writes


def _write(repo: Repository, w: _Write, mode: str, result: CheckoutResult,
           progress: Progress | None) -> None:
    what = w.entry["path"]
    byte_progress = ByteProgress.for_file(progress, f"restoring {w.dest.name}",
                                          repo.store.size(w.blake3))
    if not nofollow.AVAILABLE:  # Windows: the paths were checked under the lock
        if w.displaced_now is not None:
            displaced = repo.store.put_file(w.dest, mode="copy")
            checkpoint("checkout.displaced")
            keep_object(repo, displaced, what)
            result.displaced.append({"path": what, "blake3": displaced})
        repo.store.materialize(w.blake3, w.dest, mode=mode if mode in ("hardlink", "reflink")
                               else "copy", progress=byte_progress)
        checkpoint("checkout.restored")
        result.restored.append(w.entry)
        return
    parts = w.dest.absolute().relative_to(w.root.absolute()).parts
    with nofollow.folder(w.root, parts[:-1], create=True, what=what) as dir_fd:
        if w.displaced_now is not None:
            fd = nofollow.open_file(dir_fd, parts[-1], what)
            try:
                st = os.fstat(fd)
                if (st.st_dev, st.st_ino) != w.inode:
                    raise ConflictError(f"{what} changed while checkout ran; not overwritten")
                # The file opened here, whatever its name now leads to.
                displaced = repo.store.put_file(f"/dev/fd/{fd}", mode="copy")
            finally:
                os.close(fd)
            checkpoint("checkout.displaced")
            keep_object(repo, displaced, what)
            result.displaced.append({"path": what, "blake3": displaced})
        with repo.store.as_file(w.blake3) as src:
            nofollow.place(src, w.blake3, dir_fd, parts[-1],
                           replace=w.displaced_now is not None, tmp_dir=repo.tmp_dir,
                           hardlink=mode == "hardlink", reflink=mode == "reflink", what=what,
                           progress=byte_progress)
    checkpoint("checkout.restored")
    result.restored.append(w.entry)
