"""``repro watch --comfyui URL``: follow a running ComfyUI server.

Captures each finished prompt's outputs with the executed prompt, the
server's ``/system_stats`` and the install's git state, by calling
``repro.api.add.add`` with what was observed live (``Live``). Outputs that
appear while the server cannot be asked are captured from their files, with
that gap stated in the record. Reading the server's answers is
``repro.comfyui``'s business; this module decides what to capture and when.

Nothing here prints: events go to a ``notify`` callable as dicts with an
``"event"`` key (``captured``, ``known``, ``skipped``, ``failed``,
``missing``, ``empty``, ``unreachable``, ``reachable``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from repro.api.add import Live, add, iso_time
from repro.api.repository import Repository
from repro.comfyui.client import ComfyClient, ServerUnreachable
from repro.comfyui.history import (
    cached_nodes,
    executed_graph,
    failure,
    messages,
    queue_number,
    saved_outputs,
    timestamp_ms,
)
from repro.comfyui.system_stats import server_environment
from repro.errors import InputError, ReproError
from repro.watch._common import (
    Environment,
    Notify,
    load_state,
    notify_added,
    quiet,
    run_loop,
    save_state,
    state_path,
)
from repro.watch.folder import Pending, settled

#: Prompt ids remembered in the ComfyUI state file (the server keeps 10,000).
MAX_PROMPTS = 20_000
#: Loader runs remembered for the model-cache check.
MAX_LOADS = 2_000

GAP_UNREACHABLE = ("captured from the file: the server was unreachable, so the executed "
                   "prompt and server versions were not observed")
GAP_NO_HISTORY = ("captured from the file: the server's history did not have it (ComfyUI "
                  "keeps history in memory only), so the executed prompt and server "
                  "versions were not observed")


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
                 notify: Notify = quiet, mode: str | None = None,
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
        self.state_file = state_path(repo, "comfyui", client.url)
        state = load_state(self.state_file)
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
        self.pending: dict[str, Pending] = {}

    # -- state --

    def save(self) -> None:
        prompts = dict(list(self.prompts.items())[-MAX_PROMPTS:])
        save_state(self.repo, self.state_file, {
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

        def ready(pending: Pending) -> bool:
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
        entries.sort(key=lambda item: queue_number(item[1]))
        return entries

    def _note_server_time(self, entries: list[tuple[str, dict[str, Any]]]) -> None:
        numbers = [queue_number(e) for _pid, e in entries]
        if numbers and self.last_number >= 0 and min(numbers) <= self.last_number:
            # Queue numbers start again: the server restarted, so its caches are fresh.
            self.loads.clear()
            self.server_since_ms = None
        for _pid, entry in entries:
            for _name, data in messages(entry):
                ts = data.get("timestamp")
                if isinstance(ts, int) and (self.server_since_ms is None
                                            or ts < self.server_since_ms):
                    self.server_since_ms = ts
        if numbers:
            self.last_number = max(self.last_number, *numbers)

    def _capture_entries(self, entries: list[tuple[str, dict[str, Any]]], stats_raw: bytes,
                         stats: dict[str, Any]) -> None:
        from repro.capture.comfyui import parse_prompt_graph
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
                self.notify({"event": "failed", "prompt_id": pid, "number": queue_number(entry),
                             "reason": str(why)})
                continue
            saved = [o for o in saved_outputs(entry) if o.type == "output"]
            if not saved:
                self.prompts[pid] = "empty"
                self.notify({"event": "empty", "prompt_id": pid, "number": queue_number(entry)})
                self._remember_loads(entry, None)
                continue
            try:
                executed = executed_graph(entry)
            except InputError as exc:
                self.prompts[pid] = "unreadable"
                self.notify({"event": "skipped", "prompt_id": pid, "reason": str(exc)})
                continue
            graph, workflow = executed.graph, executed.workflow
            checker = self._cache_checker(entry, graph)
            for out in saved:
                try:
                    rel = safe_relative(out.rel)
                except ReproError as exc:
                    self.notify({"event": "skipped", "prompt_id": pid, "reason": str(exc)})
                    continue
                path = self.output_dir / rel
                if not path.is_file():
                    self.notify({"event": "missing", "prompt_id": pid, "path": str(path),
                                 "reason": "not in the output folder (moved, deleted, or "
                                           "another --output-dir)"})
                    continue
                gen = parse_prompt_graph(graph, workflow, output_node=out.node)
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
        notify_added(self.notify, result, live, unexplained="not captured",
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
        cached = cached_nodes(entry)
        start = timestamp_ms(entry, "execution_start")
        if cached is None or start is None:
            return
        for node, spec in graph.items():
            if node in cached or not isinstance(spec, dict) or \
                    "load" not in str(spec.get("class_type", "")).lower():
                continue
            key = self._loader_key(graph, node)
            if key is not None:
                self.loads.pop(key, None)
                self.loads[key] = _Load(start, queue_number(entry))
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
        cached = cached_nodes(entry)
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

    def _orphans(self, gap: str, ready: Callable[[Pending], bool]) -> bool:
        """Capture stable new output files that no history entry claimed, from the files."""
        if not self.output_dir.is_dir():
            return False
        since_ns = int((self.since - 2) * 1e9)
        found = settled(self.pending, self.output_dir, self.clock(),
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
                   notify: Notify = quiet, mode: str | None = None,
                   timeout: float = 10.0) -> None:
    """Follow the ComfyUI server at ``url``; with ``once``, handle what is there and return."""
    follower = ComfyFollower(repo, ComfyClient(url, timeout=timeout), output_dir=output_dir,
                             environment=environment, record_environment=record_environment,
                             notify=notify, mode=mode)
    if once:
        follower.catch_up()
        return
    follower.run(interval=interval, stop=stop or threading.Event())
