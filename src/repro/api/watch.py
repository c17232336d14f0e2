"""``repro watch``: capture outputs at the moment they are made.

Two followers share one loop shape (``poll`` once, sleep, repeat until a stop
event is set):

- ``FolderWatcher`` captures new images under a folder. A file is taken when
  it is complete: its size and mtime are the same at two scans in a row and
  its container is whole (a PNG ends with IEND, a JPEG with EOI, a WebP's RIFF
  size matches). Temp and preview files are ignored. A state file remembers
  what was captured, so a restart captures nothing twice and catches up with
  what appeared while it was down. Scanning with ``os.scandir`` is the source
  of truth; when ``watchdog`` is installed its inotify observer only wakes
  the loop early.
- ``ComfyFollower`` follows a running ComfyUI server through ``/history`` and
  captures each finished prompt's outputs with the executed prompt, the
  server's ``/system_stats`` and the install's git state. Outputs that appear
  while the server cannot be asked are captured from their files, with that
  gap stated in the record.

Nothing here prints: events go to a ``notify`` callable as dicts with an
``"event"`` key (``captured``, ``known``, ``skipped``, ``failed``,
``missing``, ``empty``, ``unreachable``, ``reachable``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import orjson

from repro.api.add import Live, add, iso_time
from repro.api.comfyui_client import ComfyClient, ServerUnreachable, server_environment
from repro.api.repository import Repository
from repro.capture.containers import sniff
from repro.errors import InputError, ReproError
from repro.objects import hashing
from repro.objects.atomic import write_bytes

Notify = Callable[[dict[str, Any]], None]
Environment = Callable[[], dict[str, Any] | None]

#: File name endings of partial downloads, editor swap files and temp files.
IGNORED_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".download", ".swp", ".lock")
#: Folder depth scanned below the watched folder.
MAX_DEPTH = 8
#: Files scanned per poll at most (a bound on memory for a folder gone wild).
MAX_FILES = 1_000_000
#: How long a stable but incomplete file is waited for before it is tried anyway.
GIVE_UP_SECONDS = 30.0
#: Prompt ids remembered in the ComfyUI state file (the server keeps 10,000).
MAX_PROMPTS = 20_000
#: Loader runs remembered for the model-cache check.
MAX_LOADS = 2_000

GAP_UNREACHABLE = ("captured from the file: the server was unreachable, so the executed "
                   "prompt and server versions were not observed")
GAP_NO_HISTORY = ("captured from the file: the server's history did not have it (ComfyUI "
                  "keeps history in memory only), so the executed prompt and server "
                  "versions were not observed")


def _quiet(_event: dict[str, Any]) -> None:
    pass


# -- which files, and when they are complete -----------------------------------------


IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".avif", ".gif", ".jxl", ".tif", ".tiff")


def ignored(rel: PurePosixPath) -> bool:
    """Whether a path (relative to the watched folder) is a temp or preview file."""
    parts = rel.parts
    if any(p.startswith(".") for p in parts):
        return True
    # ComfyUI writes previews to temp/ and names them ``ComfyUI_temp_xxxxx_00001_.png``.
    if any(p == "temp" for p in parts[:-1]) or "_temp_" in rel.name:
        return True
    name = rel.name.lower()
    if name.endswith(IGNORED_SUFFIXES) or name.startswith("~"):
        return True
    return not name.endswith(IMAGE_EXTS)


def iter_images(folder: Path) -> Iterator[tuple[str, int, int]]:
    """``(relative path, size, mtime_ns)`` of the candidate images under ``folder``.

    Symlinks are not followed and ``.repro`` and dot-folders are skipped. A
    folder that vanishes while it is walked is passed over.
    """
    stack: list[tuple[Path, str, int]] = [(folder, "", 0)]
    seen = 0
    while stack:
        here, prefix, depth = stack.pop()
        try:
            entries = list(os.scandir(here))
        except OSError:
            continue
        for entry in sorted(entries, key=lambda e: e.name):
            rel = f"{prefix}{entry.name}"
            try:
                if entry.is_dir(follow_symlinks=False):
                    if depth < MAX_DEPTH and not entry.name.startswith(".") and \
                            entry.name != "temp":
                        stack.append((Path(entry.path), rel + "/", depth + 1))
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue
                if ignored(PurePosixPath(rel)):
                    continue
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            seen += 1
            if seen > MAX_FILES:
                return
            yield rel, st.st_size, st.st_mtime_ns


def container_complete(path: Path) -> bool:
    """Whether an image file's container is whole, judged from its ends only.

    PNG must end with the IEND chunk, JPEG with the EOI marker, WebP must be
    as long as its RIFF header says. Other formats are judged by stability
    alone (True).
    """
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            size = os.fstat(f.fileno()).st_size
            kind = sniff(head)
            if kind == "image/png":
                f.seek(max(0, size - 12))
                return f.read(12) == b"\x00\x00\x00\x00IEND\xaeB`\x82"
            if kind == "image/jpeg":
                # Some writers pad after EOI; look at the last few bytes.
                f.seek(max(0, size - 64))
                return b"\xff\xd9" in f.read(64)
            if kind == "image/webp":
                declared = int.from_bytes(head[4:8], "little") + 8
                return size >= declared
            return size > 0
    except OSError:
        return False


# -- state files ------------------------------------------------------------------------


def _state_path(repo: Repository, kind: str, key: str) -> Path:
    digest = hashing.hash_bytes(key.encode())
    return repo.dot / f"watch-{kind}-{digest[:16]}.json"


def _load_state(path: Path) -> dict[str, Any]:
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, orjson.JSONDecodeError):
        # A damaged state file only costs a re-check: re-adding is idempotent.
        return {}
    return data if isinstance(data, dict) else {}


def _save_state(repo: Repository, path: Path, state: Mapping[str, Any]) -> None:
    tmp = repo.dot / "tmp"
    tmp.mkdir(exist_ok=True)
    write_bytes(path, orjson.dumps(state, option=orjson.OPT_SORT_KEYS), tmp_dir=tmp)


# -- the loop ---------------------------------------------------------------------------


def _wake_on_changes(folder: Path, wake: threading.Event) -> Callable[[], None] | None:
    """Start watchdog's observer to set ``wake`` on any change; None without watchdog."""
    try:
        from watchdog.events import FileSystemEventHandler  # type: ignore[import-not-found]
        from watchdog.observers import Observer  # type: ignore[import-not-found]
    except ImportError:
        return None

    class _Handler(FileSystemEventHandler):  # type: ignore[misc,unused-ignore]
        def on_any_event(self, event: Any) -> None:
            wake.set()

    observer = Observer()
    observer.schedule(_Handler(), str(folder), recursive=True)
    observer.daemon = True
    observer.start()

    def stop() -> None:
        observer.stop()
        observer.join(timeout=5)

    return stop


def run_loop(poll: Callable[[], bool], *, interval: float, stop: threading.Event,
             wake: threading.Event | None = None) -> None:
    """Call ``poll`` every ``interval`` seconds until ``stop`` is set.

    ``poll`` returns True when it has work still pending (a file not yet
    stable), which shortens the next wait so a burst settles quickly.
    """
    while not stop.is_set():
        busy = poll()
        wait = min(interval, 0.25) if busy else interval
        if wake is None:
            stop.wait(wait)
            continue
        # Wake early on a file event, but still notice ``stop`` within a tenth of a second.
        deadline = time.monotonic() + wait
        while not stop.is_set() and not wake.is_set() and time.monotonic() < deadline:
            wake.wait(min(0.1, max(0.0, deadline - time.monotonic())))
        wake.clear()


@dataclass
class _Pending:
    signature: tuple[int, int]
    since: float


def _settled(pending: dict[str, _Pending], folder: Path, now: float,
             skip: Callable[[str, tuple[int, int]], bool],
             ready: Callable[[_Pending], bool] = lambda _p: True) -> list[str]:
    """Images under ``folder`` (``skip`` aside) unchanged since the poll before and
    whole (or unchanged for ``GIVE_UP_SECONDS``). ``pending`` remembers the ones
    still changing across polls and forgets those that are gone."""
    found: list[str] = []
    present: set[str] = set()
    for rel, size, mtime_ns in iter_images(folder):
        signature = (size, mtime_ns)
        if skip(rel, signature):
            continue
        present.add(rel)
        before = pending.get(rel)
        if before is None or before.signature != signature or size == 0:
            pending[rel] = _Pending(signature, now)
            continue
        if (container_complete(folder / rel) or now - before.since > GIVE_UP_SECONDS) \
                and ready(before):
            found.append(rel)
    for rel in list(pending):
        if rel not in present:
            del pending[rel]
    return found


def _notify_added(notify: Callable[[dict[str, Any]], None], result: Any, paths: Iterable[Path],
                  *, unexplained: str | None = None,
                  extra: Callable[[Path], dict[str, Any]] = lambda _p: {}) -> None:
    """One event per path ``add`` was given: captured, known or skipped (a path the
    result does not mention is reported skipped for ``unexplained``, if given)."""
    by_path = {r["path"]: r for r in result.records}
    skipped = {s["path"]: s["reason"] for s in result.skipped}
    for path in paths:
        record = by_path.get(str(path))
        if record is not None:
            notify({"event": "known" if record["existing"] else "captured", "path": str(path),
                    "id": record["id"], "level": record["level"], "reasons": record["reasons"],
                    **extra(path)})
        elif str(path) in skipped or unexplained is not None:
            notify({"event": "skipped", "path": str(path),
                    "reason": skipped.get(str(path), unexplained), **extra(path)})


@dataclass
class FolderWatcher:
    """Captures new images under ``folder`` (see the module docstring)."""

    repo: Repository
    folder: Path
    environment: Environment = lambda: None
    notify: Notify = _quiet
    allow_empty: bool = False
    mode: str | None = None
    clock: Callable[[], float] = time.time
    state_file: Path = field(init=False)
    captured: dict[str, list[int]] = field(init=False)
    pending: dict[str, _Pending] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.folder = self.folder.resolve()
        if not self.folder.is_dir():
            raise InputError(f"{self.folder}: no such folder")
        self.state_file = _state_path(self.repo, "folder", str(self.folder))
        files = _load_state(self.state_file).get("files")
        self.captured = dict(files) if isinstance(files, dict) else {}

    def poll(self) -> bool:
        """One scan: capture what has become complete. True while files are still settling."""
        ready = _settled(self.pending, self.folder, self.clock(),
                         lambda rel, signature: self.captured.get(rel) == list(signature))
        if ready:
            self.capture(ready)
        return bool(self.pending)

    def capture(self, rels: list[str]) -> None:
        paths = {rel: self.folder / rel for rel in rels}
        signatures = {rel: self.pending[rel].signature for rel in rels}
        result = add(self.repo, list(paths.values()), environment=self.environment(),
                     allow_empty=self.allow_empty, mode=self.mode)
        _notify_added(self.notify, result, paths.values())
        for rel in paths:
            # Skipped files are remembered too: they are retried only when they change.
            self.captured[rel] = list(signatures[rel])
            del self.pending[rel]
        _save_state(self.repo, self.state_file, {"folder": str(self.folder),
                                                 "files": self.captured})

    def catch_up(self, *, settle: float = 0.2, stop: threading.Event | None = None,
                 limit: float = 120.0) -> None:
        """Capture everything present now, waiting for files still being written."""
        started = self.clock()
        while True:
            busy = self.poll()
            if not busy or (stop is not None and stop.is_set()):
                return
            if self.clock() - started > limit:
                for rel in list(self.pending):
                    self.notify({"event": "skipped", "path": str(self.folder / rel),
                                 "reason": "still being written; left for the next run"})
                return
            time.sleep(settle)

    def run(self, *, interval: float, stop: threading.Event) -> None:
        """Follow the folder until ``stop`` is set (catching up first)."""
        wake = threading.Event()
        stop_observer = _wake_on_changes(self.folder, wake)
        try:
            run_loop(self.poll, interval=interval, stop=stop,
                     wake=wake if stop_observer else None)
        finally:
            if stop_observer is not None:
                stop_observer()


def watch_folder(repo: Repository, folder: Path, *, once: bool = False, interval: float = 1.0,
                 stop: threading.Event | None = None, environment: Environment = lambda: None,
                 notify: Notify = _quiet, allow_empty: bool = False,
                 mode: str | None = None) -> None:
    """Capture images appearing under ``folder``; with ``once``, catch up and return."""
    watcher = FolderWatcher(repo, folder, environment=environment, notify=notify,
                            allow_empty=allow_empty, mode=mode)
    stop = stop or threading.Event()
    if once:
        watcher.catch_up(stop=stop)
        return
    watcher.run(interval=interval, stop=stop)


# -- a live ComfyUI server ----------------------------------------------------------------


def _messages(entry: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    status = entry.get("status")
    raw = status.get("messages") if isinstance(status, Mapping) else None
    if not isinstance(raw, list):
        return []
    return [(m[0], m[1]) for m in raw
            if isinstance(m, list) and len(m) == 2 and isinstance(m[0], str)
            and isinstance(m[1], dict)]


def _timestamp_ms(entry: Mapping[str, Any], event: str) -> int | None:
    for name, data in _messages(entry):
        value = data.get("timestamp")
        if name == event and isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _cached_nodes(entry: Mapping[str, Any]) -> set[str] | None:
    """Node ids ComfyUI reused from its cache for this job; None when it did not say."""
    for name, data in _messages(entry):
        if name == "execution_cached" and isinstance(data.get("nodes"), list):
            return {str(n) for n in data["nodes"]}
    return None


def _number(entry: Mapping[str, Any]) -> int:
    queued = entry.get("prompt")
    if isinstance(queued, list) and queued and isinstance(queued[0], int):
        return queued[0]
    return -1


def failure(entry: Mapping[str, Any]) -> str | None:
    """Why a history entry's job failed, or None when it succeeded."""
    status = entry.get("status")
    if not isinstance(status, Mapping) or status.get("status_str") != "error":
        return None
    for name, data in _messages(entry):
        if name == "execution_error":
            node = f"node {data.get('node_id')} {data.get('node_type')}: " \
                if data.get("node_id") else ""
            text = str(data.get("exception_message") or data.get("exception_type") or "")
            return f"{node}{text.strip()[:500]}" or "execution error"
        if name == "execution_interrupted":
            return "interrupted"
    return "execution error"


@dataclass
class _Load:
    """When the server last ran a loader (not from cache) for a model file."""

    at_ms: int
    number: int


class ComfyFollower:
    """Captures the outputs of a ComfyUI server's finished prompts (module docstring).

    ``output_dir`` is the server's output folder. ``environment(local=...)``
    gives the local scan (machine and install), or None when environments
    are not recorded.
    """

    def __init__(self, repo: Repository, client: ComfyClient, *, output_dir: Path,
                 environment: Environment = lambda: None, record_environment: bool = True,
                 notify: Notify = _quiet, mode: str | None = None,
                 clock: Callable[[], float] = time.time, orphan_wait: float = 60.0) -> None:
        self.repo = repo
        self.client = client
        self.output_dir = output_dir.resolve()
        self.environment = environment
        self.record_environment = record_environment
        self.notify = notify
        self.mode = mode
        self.clock = clock
        self.orphan_wait = orphan_wait
        self.state_file = _state_path(repo, "comfyui", client.url)
        state = _load_state(self.state_file)
        self.since: float = float(state.get("since") or clock())
        prompts = state.get("prompts")
        self.prompts: dict[str, str] = dict(prompts) if isinstance(prompts, dict) else {}
        files = state.get("files")
        self.files: dict[str, list[int]] = dict(files) if isinstance(files, dict) else {}
        self.last_number: int = int(state.get("last_number", -1))
        #: Earliest moment the server is known to have been running (ms): its cache is
        #: no older than its start, which is at or before this.
        self.server_since_ms: int | None = state.get("server_since_ms")
        loads = state.get("loads")
        self.loads: dict[str, _Load] = {
            k: _Load(int(v[0]), int(v[1]))
            for k, v in (loads if isinstance(loads, dict) else {}).items()
            if isinstance(v, list) and len(v) == 2}
        self.unreachable_since: float | None = None
        self.pending: dict[str, _Pending] = {}

    # -- state --

    def save(self) -> None:
        prompts = dict(list(self.prompts.items())[-MAX_PROMPTS:])
        _save_state(self.repo, self.state_file, {
            "url": self.client.url, "since": self.since, "prompts": prompts,
            "files": self.files, "last_number": self.last_number,
            "server_since_ms": self.server_since_ms,
            "loads": {k: [v.at_ms, v.number] for k, v in self.loads.items()},
        })

    # -- one poll --

    def poll(self, *, final: bool = False) -> bool:
        """Capture what finished since the last poll. True while output files are settling.

        With ``final`` (``--once``), outputs no history entry accounts for are
        captured from their files right away.
        """
        asked = self.clock()
        try:
            new = self._new_entries()
            stats_raw, stats = self.client.system_stats() if new else (b"", {})
        except ServerUnreachable as exc:
            if self.unreachable_since is None:
                self.unreachable_since = asked
                self.notify({"event": "unreachable", "url": self.client.url,
                             "reason": str(exc)})
            waited = self.clock() - self.unreachable_since
            give_up = final or waited > self.orphan_wait
            return self._orphans(GAP_UNREACHABLE, lambda _p: give_up)
        was_unreachable = self.unreachable_since is not None
        if was_unreachable:
            self.notify({"event": "reachable", "url": self.client.url})
            self.unreachable_since = None
        if new:
            self._capture_entries(new, stats_raw, stats)
        idle: list[bool] = []

        def ready(pending: _Pending) -> bool:
            # ComfyUI saves a file during the job and adds the history entry when the
            # whole job ends: a file is an orphan only if it was already there when
            # the history was asked for and no job is running or queued.
            if final:
                return True
            if pending.since >= asked:
                return False
            if not idle:
                try:
                    queue = self.client.queue()
                except ReproError:
                    idle.append(False)
                else:
                    idle.append(not queue.get("queue_running") and not queue.get("queue_pending"))
            return idle[0]

        return self._orphans(GAP_UNREACHABLE if was_unreachable else GAP_NO_HISTORY, ready)

    def _new_entries(self) -> list[tuple[str, dict[str, Any]]]:
        """History entries not yet handled, oldest first (asks for more until one is known)."""
        n = 64
        while True:
            history = self.client.history(max_items=n) if n <= 10_000 else self.client.history()
            unseen = [pid for pid in history if pid not in self.prompts]
            if len(history) < n or len(unseen) < len(history) or n > 10_000:
                break
            n *= 4
        entries = [(pid, history[pid]) for pid in unseen if isinstance(history[pid], dict)]
        entries.sort(key=lambda item: _number(item[1]))
        return entries

    def _note_server_time(self, entries: list[tuple[str, dict[str, Any]]]) -> None:
        numbers = [_number(e) for _pid, e in entries]
        if numbers and self.last_number >= 0 and min(numbers) <= self.last_number:
            # Queue numbers start again: the server restarted, so its caches are fresh.
            self.loads.clear()
            self.server_since_ms = None
        for _pid, entry in entries:
            for _name, data in _messages(entry):
                ts = data.get("timestamp")
                if isinstance(ts, int) and (self.server_since_ms is None
                                            or ts < self.server_since_ms):
                    self.server_since_ms = ts
        if numbers:
            self.last_number = max(self.last_number, *numbers)

    def _capture_entries(self, entries: list[tuple[str, dict[str, Any]]], stats_raw: bytes,
                         stats: dict[str, Any]) -> None:
        from repro.capture.comfyui import graph_from_history_entry, parse_prompt_graph
        from repro.capture.comfyui import saved_outputs as outputs_of
        from repro.models.roots import safe_relative

        self._note_server_time(entries)
        env = None
        if self.record_environment:
            env = server_environment(stats, self.environment(), url=self.client.url)
        live: dict[Path, Live] = {}
        owners: dict[Path, tuple[str, str]] = {}
        for pid, listed in entries:
            fetched = self.client.history_entry(pid)
            if fetched is None:
                raw, entry = orjson.dumps({pid: listed}), listed
            else:
                raw, entry = fetched
            why = failure(entry)
            if why is not None:
                self.prompts[pid] = "failed"
                self.notify({"event": "failed", "prompt_id": pid, "number": _number(entry),
                             "reason": why})
                continue
            saved = [o for o in outputs_of(entry) if o["type"] == "output"]
            if not saved:
                self.prompts[pid] = "empty"
                self.notify({"event": "empty", "prompt_id": pid, "number": _number(entry)})
                self._remember_loads(entry, None)
                continue
            try:
                graph, workflow, _ = graph_from_history_entry(entry)
            except InputError as exc:
                self.prompts[pid] = "unreadable"
                self.notify({"event": "skipped", "prompt_id": pid, "reason": str(exc)})
                continue
            checker = self._cache_checker(entry, graph)
            for out in saved:
                try:
                    rel = safe_relative(f"{out['subfolder']}/{out['filename']}".lstrip("/"))
                except ReproError as exc:
                    self.notify({"event": "skipped", "prompt_id": pid, "reason": str(exc)})
                    continue
                path = self.output_dir / rel
                if not path.is_file():
                    self.notify({"event": "missing", "prompt_id": pid, "path": str(path),
                                 "reason": "not in the output folder (moved, deleted, or "
                                           "another --output-dir)"})
                    continue
                gen = parse_prompt_graph(graph, workflow, output_node=out["node"])
                gen.format, gen.formats = "comfyui-history", ["comfyui-history"]
                gen.tool_version = (stats.get("system") or {}).get("comfyui_version") \
                    if isinstance(stats.get("system"), dict) else None
                live[path] = Live(generation=gen, environment=env,
                                  blobs={"history": raw, "system_stats": stats_raw},
                                  model_reasons=checker)
                owners[path] = (pid, rel.as_posix())
            self._remember_loads(entry, graph)
            self.prompts.setdefault(pid, "captured")
        if live:
            self._add(live, owners)
        self.save()

    def _add(self, live: dict[Path, Live], owners: Mapping[Path, tuple[str, str]]) -> None:
        env = live[next(iter(live))].environment
        result = add(self.repo, list(live), environment=env, mode=self.mode, live=live,
                     allow_empty=True)
        _notify_added(self.notify, result, live, unexplained="not captured",
                      extra=lambda path: {"prompt_id": owners.get(path, ("", ""))[0] or None})
        for path in live:
            rel = owners.get(path, ("", ""))[1]
            try:
                st = path.stat()
            except OSError:
                continue
            self.files[rel or path.relative_to(self.output_dir).as_posix()] = \
                [st.st_size, st.st_mtime_ns]

    # -- the model-cache trap --

    @staticmethod
    def _loader_key(graph: Mapping[str, Any], node: str) -> str | None:
        spec = graph.get(node)
        if not isinstance(spec, dict):
            return None
        inputs = spec.get("inputs")
        if not isinstance(inputs, dict):
            inputs = {}
        literal = {k: v for k, v in sorted(inputs.items()) if not isinstance(v, list)}
        return orjson.dumps([spec.get("class_type"), literal],
                            option=orjson.OPT_SORT_KEYS).decode()

    def _remember_loads(self, entry: Mapping[str, Any], graph: Mapping[str, Any] | None) -> None:
        """Note which loaders this job really ran (not from cache), and when."""
        if graph is None:
            return
        cached = _cached_nodes(entry)
        start = _timestamp_ms(entry, "execution_start")
        if cached is None or start is None:
            return
        for node, spec in graph.items():
            if node in cached or not isinstance(spec, dict) or \
                    "load" not in str(spec.get("class_type", "")).lower():
                continue
            key = self._loader_key(graph, node)
            if key is not None:
                self.loads.pop(key, None)
                self.loads[key] = _Load(start, _number(entry))
        while len(self.loads) > MAX_LOADS:
            del self.loads[next(iter(self.loads))]

    def _cache_checker(self, entry: Mapping[str, Any],
                       graph: Mapping[str, Any]) -> Callable[[dict[str, Any], Path], list[str]]:
        """Reasons for models whose file changed while the server may hold an older copy.

        ComfyUI caches a node's result by its inputs; a loader's input is the
        file *name*, so a file replaced under the same name is not re-read
        until ``POST /free``. A loader run in this job read the file then; a
        cached one read it at an earlier job (or at least after the server
        started, when that job is unknown): if the file's mtime is later, the
        content captured may not be what the job used.
        """
        cached = _cached_nodes(entry)
        snapshot = dict(self.loads)
        server_since = self.server_since_ms

        def check(model: dict[str, Any], path: Path) -> list[str]:
            node = model.get("node")
            if not isinstance(node, str):
                return []
            try:
                mtime_ms = path.stat().st_mtime * 1000
            except OSError:
                return []
            label = f"{model.get('role')} {model.get('name')}"
            if cached is not None and node not in cached:
                return []  # loaded afresh by this very job
            key = self._loader_key(graph, node)
            load = snapshot.get(key) if key else None
            if load is not None:
                if mtime_ms <= load.at_ms:
                    return []
                when = (f"it was loaded for prompt #{load.number} at {iso_time(load.at_ms / 1000)} "
                        "and reused from ComfyUI's cache")
            elif server_since is not None and mtime_ms > server_since:
                how = "reused from ComfyUI's cache" if cached is not None else "perhaps cached"
                when = (f"{how}, it may have been loaded before that (the server was running "
                        f"since at least {iso_time(server_since / 1000)})")
            else:
                return []
            return [f"{label}: the file was modified at {iso_time(mtime_ms / 1000)}, while the "
                    f"server was running; {when}. ComfyUI caches loaders by file name, so the "
                    "recorded content may not be what was loaded (POST /free makes it reload)"]

        return check

    # -- outputs no history entry accounts for --

    def _orphans(self, gap: str, ready: Callable[[_Pending], bool]) -> bool:
        """Capture stable new output files that no history entry claimed, from the files."""
        if not self.output_dir.is_dir():
            return False
        since_ns = int((self.since - 2) * 1e9)
        found = _settled(self.pending, self.output_dir, self.clock(),
                         lambda rel, signature: rel in self.files or signature[1] < since_ns,
                         ready)
        if found:
            env = self.environment() if self.record_environment else None
            live = {self.output_dir / rel: Live(environment=env, reasons=[gap])
                    for rel in found}
            self._add(live, {self.output_dir / rel: ("", rel) for rel in found})
            for rel in found:
                self.pending.pop(rel, None)
            self.save()
        return bool(self.pending)

    # -- loops --

    def catch_up(self, *, settle: float = 0.2, limit: float = 120.0) -> None:
        """One pass (``--once``): handle the history, then files no entry accounts for."""
        started = self.clock()
        while self.poll(final=True) and self.clock() - started < limit:
            time.sleep(settle)

    def run(self, *, interval: float, stop: threading.Event) -> None:
        """Follow the server until ``stop`` is set."""
        run_loop(self.poll, interval=interval, stop=stop)


def follow_comfyui(repo: Repository, url: str, *, output_dir: Path, once: bool = False,
                   interval: float = 1.0, stop: threading.Event | None = None,
                   environment: Environment = lambda: None, record_environment: bool = True,
                   notify: Notify = _quiet, mode: str | None = None,
                   timeout: float = 10.0) -> None:
    """Follow the ComfyUI server at ``url``; with ``once``, handle what is there and return."""
    follower = ComfyFollower(repo, ComfyClient(url, timeout=timeout), output_dir=output_dir,
                             environment=environment, record_environment=record_environment,
                             notify=notify, mode=mode)
    if once:
        follower.catch_up()
        return
    follower.run(interval=interval, stop=stop or threading.Event())
