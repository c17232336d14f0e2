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
from pathlib import Path
from typing import Any

import orjson

from repro.api.add import Live, add, iso_time
from repro.api.repository import Repository
from repro.comfyui.client import ComfyClient, ServerUnreachable, is_loopback
from repro.comfyui.history import (
    SavedOutput,
    cached_nodes,
    executed_graph,
    executed_nodes,
    failure,
    output_nodes,
    queue_number,
    saved_outputs,
    timestamp_ms,
)
from repro.comfyui.system_stats import output_directory, server_environment
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
from repro.watch.loads import Finding, LoaderMemory
from repro.watch.server_env import UsedPackages, with_server_packages

#: Prompt ids remembered in the ComfyUI state file (the server keeps 10,000).
MAX_PROMPTS = 20_000

GAP_UNREACHABLE = ("captured from the file: the server was unreachable, so the executed "
                   "prompt and server versions were not observed")
GAP_NO_HISTORY = ("captured from the file: the server's history did not have it (ComfyUI "
                  "keeps history in memory only), so the executed prompt and server "
                  "versions were not observed")


class ComfyFollower:
    """Captures the outputs of a ComfyUI server's finished prompts (module docstring).

    ``output_dir`` is the server's output folder; unless ``output_dir_given``,
    the folder the server says it was started with (``--output-directory``,
    ``--base-directory`` in ``/system_stats``) replaces it, relative paths
    being taken from ``server_root``. ``environment()`` gives the local scan
    (machine and install), or None when environments are not recorded.
    """

    def __init__(self, repo: Repository, client: ComfyClient, *, output_dir: Path,
                 environment: Environment = lambda: None, record_environment: bool = True,
                 notify: Notify = quiet, mode: str | None = None,
                 clock: Callable[[], float] = time.time, orphan_wait: float = 60.0,
                 output_dir_given: bool = True, server_root: Path | None = None) -> None:
        self.repo = repo
        self.client = client
        self.output_dir = output_dir.resolve()
        self.output_dir_given = output_dir_given
        self.server_root = server_root
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
        #: Queue number of the last job handled: a lower one means the server restarted.
        self.last_number: int = int(state.get("last_number", -1))
        self.memory = LoaderMemory.from_state(state)
        self.used = UsedPackages(client)
        self.unreachable_since: float | None = None
        self.pending: dict[str, Pending] = {}

    # -- state --

    def save(self) -> None:
        prompts = dict(list(self.prompts.items())[-MAX_PROMPTS:])
        save_state(self.repo, self.state_file, {
            "url": self.client.url, "since": self.since, "prompts": prompts,
            "files": self.files, "last_number": self.last_number, **self.memory.to_state(),
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
            self._follow_output_dir(stats)
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

    def _follow_output_dir(self, stats: Mapping[str, Any]) -> None:
        """Where the server says it saves, unless the folder was given."""
        system = stats.get("system")
        argv = system.get("argv") if isinstance(system, Mapping) else None
        named = output_directory(argv) if isinstance(argv, list) else None
        if self.output_dir_given or named is None:
            return
        folder = Path(named)
        if not folder.is_absolute():
            if self.server_root is None:
                return
            folder = self.server_root / folder
        self.output_dir = folder.resolve()

    def _note_number(self, number: int) -> None:
        # History is lost on restart and queue numbers start again from 0: a number
        # below the last one handled means a new server life, whose caches are empty.
        if number >= 0 and number <= self.last_number:
            self.memory.restart()
            self.used.restart()
        self.last_number = max(number, 0) if number >= 0 else self.last_number

    @staticmethod
    def _rescan() -> None:
        """A new server life loaded the code on disk now: scan the install again (an edit
        in place of a custom node changes nothing the scan's stamp looks at)."""
        from repro.environment.current import clear_cache

        clear_cache()

    def _capture_entries(self, entries: list[tuple[str, dict[str, Any]]], stats_raw: bytes,
                         stats: dict[str, Any]) -> None:
        from repro.capture.comfyui import parse_prompt_graph
        from repro.models.roots import safe_relative

        env = None
        if any(0 <= queue_number(listed) <= self.last_number for _, listed in entries):
            self._rescan()  # before the scan these jobs' records get
        if self.record_environment:
            env = server_environment(stats, self.environment(), url=self.client.url)
            if is_loopback(self.client.url):
                env = with_server_packages(env, stats)
        version = (stats.get("system") or {}).get("comfyui_version") \
            if isinstance(stats.get("system"), dict) else None
        live: dict[Path, Live] = {}
        owners: dict[Path, tuple[str, str]] = {}
        for pid, listed in entries:
            fetched = self.client.history_entry(pid)
            raw, entry = (orjson.dumps({pid: listed}), listed) if fetched is None else fetched
            number = queue_number(entry)
            self._note_number(number)
            self.memory.note_start(timestamp_ms(entry, "execution_start"))
            why = failure(entry)
            if why is not None:
                self.prompts[pid] = "failed"
                self.notify({"event": "failed", "prompt_id": pid, "number": number,
                             "reason": str(why)})
            try:
                executed = executed_graph(entry)
            except InputError as exc:
                self.prompts.setdefault(pid, "unreadable")
                self.notify({"event": "skipped", "prompt_id": pid, "reason": str(exc)})
                continue
            graph, workflow = executed.graph, executed.workflow
            findings = self._loads(entry, graph, number)
            saved = [o for o in saved_outputs(entry) if o.type == "output"]
            if not saved and why is None:
                self.prompts[pid] = "empty"
                self.notify({"event": "empty", "prompt_id": pid, "number": number})
            batch = _batch_indexes(saved)
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
                gen.tool_version = version
                if out in batch:
                    gen.params["batch_index"] = batch[out]
                if why is not None:
                    gen.warnings.append(f"the job failed after this output was saved ({why}); "
                                        "the output depends only on nodes that ran")
                reasons: list[str] = []
                for model in gen.models:
                    found = findings.get(model.node or "")
                    if found is not None:
                        reasons.extend(found.reasons)
                        if found.blake3 is not None:
                            model.hashes["blake3"] = found.blake3
                live[path] = Live(generation=gen, environment=self.used.mark(env, graph, out.node),
                                  blobs={"history": raw, "system_stats": stats_raw},
                                  reasons=reasons)
                owners[path] = (pid, rel.as_posix())
            self.prompts.setdefault(pid, "captured")
        if live:
            self._add(live, owners)
        self.save()

    def _loads(self, entry: Mapping[str, Any], graph: dict[str, Any],
               number: int) -> dict[str, Finding]:
        """Run this job through the loader memory (``repro.watch.loads``)."""
        from repro.capture.comfyui import models_by_node
        from repro.models.resolve import Resolver

        try:
            models = models_by_node(graph, output_nodes(entry))
        except ReproError:
            return {}
        cached = cached_nodes(entry)
        ran = executed_nodes(entry)
        if ran is not None:  # a failed job: only what ran before the error touched the cache
            models = {n: m for n, m in models.items() if n in ran or n in (cached or ())}
        fresh = set() if cached is None else set(models) - cached
        resolver = Resolver(self.repo.config.model_roots, self.repo.stat_cache)
        cache = self.repo.stat_cache

        def locate(ref: Any) -> Path | None:
            try:
                return resolver.resolve(name=ref.name, role=ref.role, folder=ref.folder,
                                        recorded={}).path
            except ReproError:
                return None

        return self.memory.job(
            number=number, start_ms=timestamp_ms(entry, "execution_start"), graph=graph,
            models=models, fresh=fresh, cached=set(cached) if cached is not None else None,
            locate=locate, hash_file=lambda path, st: cache.hashes(path, ("blake3",), st)["blake3"],
            when=iso_time)

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
                   notify: Notify = quiet, mode: str | None = None, timeout: float = 10.0,
                   output_dir_given: bool = True, server_root: Path | None = None) -> None:
    """Follow the ComfyUI server at ``url``; with ``once``, handle what is there and return.

    With ``once``, raises ``ServerUnreachable`` when the server did not answer
    (after capturing the outputs that appeared meanwhile from their files).
    """
    follower = ComfyFollower(repo, ComfyClient(url, timeout=timeout), output_dir=output_dir,
                             environment=environment, record_environment=record_environment,
                             notify=notify, mode=mode, output_dir_given=output_dir_given,
                             server_root=server_root)
    if once:
        follower.catch_up()
        if follower.unreachable_since is not None:
            raise ServerUnreachable(f"{follower.client.url}: no answer; what it made meanwhile "
                                    "was captured from the files, without its history")
        return
    follower.run(interval=interval, stop=stop or threading.Event())


def _batch_indexes(saved: list[SavedOutput]) -> dict[SavedOutput, int]:
    """Each file's index in its node's batch, for nodes that saved more than one."""
    per_node: dict[str, list[SavedOutput]] = {}
    for out in saved:
        per_node.setdefault(out.node, []).append(out)
    return {out: i for outs in per_node.values() if len(outs) > 1 for i, out in enumerate(outs)}
