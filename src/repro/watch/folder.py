"""``repro watch FOLDER``: capture images and videos under a folder once they are whole.

A file is taken when it is complete: its size and mtime are the same at two
scans in a row and its container is whole (a PNG ends with IEND, a JPEG with
EOI, a WebP's RIFF size matches, an MP4's boxes add up and include ``moov``, a
WebM's Segment size is reached). Temp and preview files are ignored. A state
file remembers what was captured, so a restart captures nothing twice and
catches up with what appeared while it was down. Scanning with ``os.scandir``
is the source of truth; when ``watchdog`` is installed its inotify observer
only wakes the loop early. The settling routine here is shared with the
ComfyUI follower, which captures output files no history entry accounts for.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from repro.api.add import add
from repro.api.repository import Repository
from repro.capture import OUTPUT_SUFFIXES
from repro.capture.containers import sniff
from repro.capture.video import complete as video_complete
from repro.capture.video import sniff_video
from repro.errors import InputError
from repro.watch._common import (
    FolderEnvironment,
    Notify,
    load_state,
    notify_added,
    quiet,
    run_loop,
    save_state,
    state_path,
)

#: File name endings of partial downloads, editor swap files and temp files.
IGNORED_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".download", ".swp", ".lock")
#: Folder depth scanned below the watched folder.
MAX_DEPTH = 8
#: Files scanned per poll at most (a bound on memory for a folder gone wild).
MAX_FILES = 1_000_000
#: How long a stable but incomplete file is waited for before it is tried anyway.
GIVE_UP_SECONDS = 30.0

# -- which files, and when they are complete -----------------------------------------



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
    return not name.endswith(OUTPUT_SUFFIXES)


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
    """Whether an output file's container is whole, judged from its ends only.

    PNG must end with the IEND chunk, JPEG with the EOI marker, WebP must be
    as long as its RIFF header says; videos as ``capture.video.complete`` judges them.
    Other formats are judged by stability alone (True).
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
            if (media := sniff_video(head)) is not None:
                return video_complete(f, size, media)
            return size > 0
    except OSError:
        return False




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


@dataclass
class Pending:
    signature: tuple[int, int]
    since: float


def settled(pending: dict[str, Pending], folder: Path, now: float,
             skip: Callable[[str, tuple[int, int]], bool],
             ready: Callable[[Pending], bool] = lambda _p: True) -> list[str]:
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
            pending[rel] = Pending(signature, now)
            continue
        if (container_complete(folder / rel) or now - before.since > GIVE_UP_SECONDS) \
                and ready(before):
            found.append(rel)
    for rel in list(pending):
        if rel not in present:
            del pending[rel]
    return found


@dataclass
class FolderWatcher:
    """Captures new images under ``folder`` (see the module docstring)."""

    repo: Repository
    folder: Path
    environment: FolderEnvironment = lambda: None
    notify: Notify = quiet
    allow_empty: bool = False
    mode: str | None = None
    clock: Callable[[], float] = time.time
    state_file: Path = field(init=False)
    captured: dict[str, list[int]] = field(init=False)
    pending: dict[str, Pending] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.folder = self.folder.resolve()
        if not self.folder.is_dir():
            raise InputError(f"{self.folder}: no such folder")
        self.state_file = state_path(self.repo, "folder", str(self.folder))
        files = load_state(self.state_file).get("files")
        self.captured = dict(files) if isinstance(files, dict) else {}

    def poll(self) -> bool:
        """One scan: capture what has become complete. True while files are still settling."""
        ready = settled(self.pending, self.folder, self.clock(),
                         lambda rel, signature: self.captured.get(rel) == list(signature))
        if ready:
            self.capture(ready)
        return bool(self.pending)

    def capture(self, rels: list[str]) -> None:
        paths = {rel: self.folder / rel for rel in rels}
        signatures = {rel: self.pending[rel].signature for rel in rels}
        result = add(self.repo, list(paths.values()), environment=self.environment(),
                     allow_empty=self.allow_empty, mode=self.mode)
        notify_added(self.notify, result, paths.values())
        for rel in paths:
            # Skipped files are remembered too: they are retried only when they change.
            self.captured[rel] = list(signatures[rel])
            del self.pending[rel]
        save_state(self.repo, self.state_file, {"folder": str(self.folder),
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
                 stop: threading.Event | None = None,
                 environment: FolderEnvironment = lambda: None,
                 notify: Notify = quiet, allow_empty: bool = False,
                 mode: str | None = None) -> None:
    """Capture images appearing under ``folder``; with ``once``, catch up and return."""
    watcher = FolderWatcher(repo, folder, environment=environment, notify=notify,
                            allow_empty=allow_empty, mode=mode)
    stop = stop or threading.Event()
    if once:
        watcher.catch_up(stop=stop)
        return
    watcher.run(interval=interval, stop=stop)
