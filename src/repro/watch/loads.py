"""Which bytes a ComfyUI server's loaders hold: the model-cache trap.

ComfyUI caches a node's result by its inputs; a loader's input is the file
*name*, so a file replaced under the same name is not read again until
``POST /free`` or a restart. The follower therefore remembers, per loader,
the bytes it saw loaded the last time the loader really ran (not from the
cache): the file's BLAKE3 when its stat shows it unchanged since the job
started, or "unknown" when it changed meanwhile. A job that reuses the
cached loader used those bytes, whatever the file holds now; the file's
whole stat identity (device, inode, size, mtime_ns, ctime_ns) tells whether
it was replaced since, also by ``cp -p``, ``mv`` or ``rsync -a``, which keep
the mtime. A server restart (its queue numbers go down) empties the cache.

The rule: when the bytes a job used cannot be known, a reason says so (the
level is then not ``full``); when they can, they are what the record names.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from repro.capture.types import ModelRef

#: Loaders remembered at most (oldest forgotten first).
MAX_LOADS = 2_000

Locate = Callable[[ModelRef], Path | None]
Hash = Callable[[Path, os.stat_result], str]
Clock = Callable[[float], str]


@dataclass(frozen=True)
class Identity:
    """A file's stat as far as it tells whether the bytes changed."""

    dev: int
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> Identity:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def changed_after(self, ms: int) -> bool:
        """Whether the file was written or replaced after ``ms`` (epoch milliseconds)."""
        return max(self.mtime_ns, self.ctime_ns) > ms * 1_000_000

    @property
    def changed_ms(self) -> float:
        return max(self.mtime_ns, self.ctime_ns) / 1e6


@dataclass(frozen=True)
class Load:
    """The last time a loader really ran: job number and start, and the bytes it read
    (``blake3`` None: not known, the file changed while or after it was read)."""

    number: int
    at_ms: int
    blake3: str | None
    identity: Identity | None

    def to_list(self) -> list[Any]:
        ident = None if self.identity is None else list(vars(self.identity).values())
        return [self.number, self.at_ms, self.blake3, ident]

    @classmethod
    def from_list(cls, value: Any) -> Load | None:
        if not isinstance(value, list) or len(value) != 4:
            return None
        number, at_ms, blake3, ident = value
        if not isinstance(number, int) or not isinstance(at_ms, int):
            return None
        identity = Identity(*ident) if isinstance(ident, list) and len(ident) == 5 and all(
            isinstance(i, int) for i in ident) else None
        return cls(number, at_ms, blake3 if isinstance(blake3, str) else None, identity)


@dataclass
class Finding:
    """What a job's use of one loader tells about one output: the bytes used (when
    known) and the reasons they may differ from what the record names."""

    blake3: str | None = None
    reasons: tuple[str, ...] = ()


def loader_key(spec: Mapping[str, Any]) -> str:
    """A loader's cache key as ComfyUI forms it: its class and literal inputs."""
    inputs = spec.get("inputs")
    literal = {k: v for k, v in sorted((inputs if isinstance(inputs, dict) else {}).items())
               if not isinstance(v, list)}
    return orjson.dumps([spec.get("class_type"), literal], option=orjson.OPT_SORT_KEYS).decode()


class LoaderMemory:
    """The loads of one server's life, job after job (see the module docstring)."""

    def __init__(self, loads: Mapping[str, Load] | None = None,
                 server_since_ms: int | None = None) -> None:
        self.loads: dict[str, Load] = dict(loads or {})
        #: Earliest moment the server is known to have been running (its first job's
        #: start): a loader can hold no bytes older than that.
        self.server_since_ms = server_since_ms

    def restart(self) -> None:
        """The server started again: its caches are empty."""
        self.loads.clear()
        self.server_since_ms = None

    def note_start(self, ms: int | None) -> None:
        if ms is not None and (self.server_since_ms is None or ms < self.server_since_ms):
            self.server_since_ms = ms

    def job(self, *, number: int, start_ms: int | None, graph: Mapping[str, Any],
            models: Mapping[str, list[ModelRef]], fresh: set[str], cached: set[str] | None,
            locate: Locate, hash_file: Hash, when: Clock) -> dict[str, Finding]:
        """Findings per loader node of one job, in the order the server ran it.

        ``models`` maps the job's executed loader nodes to their model
        references; ``fresh`` are those that really ran, ``cached`` those taken
        from the cache (None: the server did not say which).
        """
        found: dict[str, Finding] = {}
        for node, refs in models.items():
            spec = graph.get(node)
            if not isinstance(spec, Mapping) or not refs:
                continue
            key = loader_key(spec)
            path = locate(refs[0])
            label = f"{refs[0].role} {refs[0].name}"
            if path is None:
                self.loads.pop(key, None)
                continue
            try:
                st = path.stat()
            except OSError:
                self.loads.pop(key, None)
                continue
            identity = Identity.of(st)
            if node in fresh:
                found[node] = self._fresh(key, number, start_ms, identity, path, st, label,
                                          hash_file, when)
            else:
                found[node] = self._reused(key, identity, path, st, label, hash_file, when,
                                           said=cached is not None)
        while len(self.loads) > MAX_LOADS:
            del self.loads[next(iter(self.loads))]
        return found

    def _fresh(self, key: str, number: int, start_ms: int | None, identity: Identity,
               path: Path, st: os.stat_result, label: str, hash_file: Hash,
               when: Clock) -> Finding:
        self.loads.pop(key, None)
        if start_ms is None or identity.changed_after(start_ms):
            self.loads[key] = Load(number, start_ms or 0, None, identity)
            started = f"started at {when(start_ms / 1000)}" if start_ms else "started"
            return Finding(reasons=(
                f"{label}: the file was modified at {when(identity.changed_ms / 1000)}, after "
                f"prompt #{number} {started} and loaded it, so what it loaded is not known",))
        blake3 = hash_file(path, st)
        self.loads[key] = Load(number, start_ms, blake3, identity)
        return Finding(blake3=blake3)

    def _reused(self, key: str, identity: Identity, path: Path, st: os.stat_result,
                label: str, hash_file: Hash, when: Clock, *, said: bool) -> Finding:
        how = "reused from ComfyUI's cache" if said else "perhaps reused from ComfyUI's cache"
        trap = ("ComfyUI caches loaders by file name, so the recorded content may not be "
                "what was loaded (POST /free makes it reload)")
        load = self.loads.get(key)
        if load is None:
            since = self.server_since_ms
            if since is not None and not identity.changed_after(since):
                # Unchanged since the server's first job: whenever it loaded, it read this.
                blake3 = hash_file(path, st)
                self.loads[key] = Load(-1, since, blake3, identity)
                return Finding(blake3=blake3)
            self.loads[key] = Load(-1, since or 0, None, None)
            running = (f"the server was running since at least {when(since / 1000)}"
                       if since is not None else "the server does not say since when it runs")
            return Finding(reasons=(
                f"{label}: {how}, and it may have been loaded before the file was modified at "
                f"{when(identity.changed_ms / 1000)} ({running}); {trap}",))
        loaded = (f"it was loaded for prompt #{load.number} at {when(load.at_ms / 1000)}"
                  if load.number >= 0 else "it was loaded before this follower saw a job")
        if load.blake3 is None:
            return Finding(reasons=(
                f"{label}: {how}; {loaded} while the file was being replaced, so which "
                f"version it holds is not known. {trap}",))
        if load.identity == identity:
            return Finding(blake3=load.blake3)
        now = hash_file(path, st)
        if now == load.blake3:
            return Finding(blake3=load.blake3)
        if not said:
            return Finding(reasons=(
                f"{label}: {how}; {loaded} with blake3 {load.blake3[:12]}, and the file now "
                f"holds {now[:12]}. {trap}",))
        return Finding(blake3=load.blake3, reasons=(
            f"{label}: {how}; {loaded} with blake3 {load.blake3[:12]}, and the file was "
            f"replaced since (it now holds {now[:12]}): the record names the version that "
            f"was loaded. {trap}",))

    def to_state(self) -> dict[str, Any]:
        return {"loads": {k: v.to_list() for k, v in self.loads.items()},
                "server_since_ms": self.server_since_ms}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> LoaderMemory:
        raw = state.get("loads")
        loads = {}
        for key, value in (raw if isinstance(raw, dict) else {}).items():
            load = Load.from_list(value)
            if load is not None:
                loads[key] = load
        since = state.get("server_since_ms")
        return cls(loads, since if isinstance(since, int) else None)
