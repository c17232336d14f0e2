"""A cheap stamp of what an install scan reads: when it changes, scan again.

A scan of a ComfyUI install (its git state and dirtiness, each custom node's,
the venv's packages) costs milliseconds to seconds; a watcher wants it fresh
without paying that for every job. The stamp is a few ``stat`` calls: the git
files a commit, checkout, pull or ``git add`` rewrite (``HEAD``, the branch's
ref, ``packed-refs``, ``index``), each watched folder's own times (a file
added, removed or replaced by rename), each single-file custom node, and the
venv's ``site-packages`` folders (a package installed or removed). An edit
in place of a tracked file changes none of these: the follower also scans
again when the server restarts, which is when new code is loaded anyway.
"""

from __future__ import annotations

import os
from pathlib import Path

from repro.environment._files import list_dir, read_text

Stamp = tuple[tuple[str, int, int, int, int], ...]

#: Entries of ``custom_nodes/`` looked at, at most (as the scan does).
MAX_ENTRIES = 10_000


def _stat(path: Path) -> tuple[str, int, int, int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (str(path), -1, -1, -1, -1)
    return (str(path), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _git_paths(folder: Path) -> list[Path]:
    git = folder / ".git"
    if not git.is_dir():  # no repository, or a worktree's ``.git`` file: its own times
        return [git]
    paths = [git / "HEAD", git / "index", git / "packed-refs"]
    head = read_text(git / "HEAD", limit=4096) or ""
    if head.startswith("ref: "):
        paths.append(git / head[5:].strip())
    return paths


def install_stamp(root: str | Path, venv: Path | None) -> Stamp:
    """The stamp of a tool install at ``root`` and its Python ``venv`` (if found)."""
    from repro.environment.packages import find_site_packages

    base = Path(root)
    paths = [base, *_git_paths(base)]
    for folder in (base / "custom_nodes", base / "extensions"):
        paths.append(folder)
        for entry in list_dir(folder, limit=MAX_ENTRIES):
            paths.append(entry)
            if entry.is_dir():
                paths.extend(_git_paths(entry))
    if venv is not None:
        paths.extend(Path(p) for p in find_site_packages(venv))
    return tuple(_stat(p) for p in paths)
