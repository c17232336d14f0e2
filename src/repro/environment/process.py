"""The Python environment a running program uses, found from its process (Linux).

A ComfyUI server reports its ``argv`` in ``/system_stats`` but not where its
Python is. On the same machine, the process whose command line is a Python
followed by exactly that ``argv`` is the server: its interpreter path (as it
was started, not the resolved binary, so that a venv's ``bin/python`` still
names the venv), or its ``VIRTUAL_ENV``, says which environment to read.
Anything ambiguous or unreadable gives None: better nothing than the wrong
packages.
"""

from __future__ import annotations

import os
from pathlib import Path

from repro.environment._files import list_dir
from repro.environment.packages import find_site_packages

#: Largest /proc file read (a command line or an environment block).
MAX_PROC_BYTES = 256 * 1024


def _read(path: Path) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read(MAX_PROC_BYTES)
    except OSError:
        return None


def find_process(argv: list[str], proc: Path = Path("/proc")) -> Path | None:
    """``/proc/<pid>`` of the one process started as ``<python> *argv``, or None."""
    if not argv:
        return None
    wanted = [a.encode("utf-8", "surrogateescape") for a in argv]
    found: list[Path] = []
    for entry in list_dir(proc, limit=1_000_000):
        if not entry.name.isdigit():
            continue
        raw = _read(entry / "cmdline")
        if not raw:
            continue
        words = raw.rstrip(b"\0").split(b"\0")
        if len(words) == len(wanted) + 1 and words[1:] == wanted and \
                os.path.basename(words[0]).startswith(b"python"):
            found.append(entry)
    return found[0] if len(found) == 1 else None


def python_env_of_process(process: Path) -> Path | None:
    """The venv or install folder of the Python running as ``process`` (``/proc/<pid>``)."""
    raw = _read(process / "cmdline")
    if not raw:
        return None
    exe = os.fsdecode(raw.split(b"\0")[0])
    candidates: list[Path] = []
    if os.path.isabs(exe):
        candidates.append(Path(exe).parent.parent)
    elif os.sep in exe:
        try:
            cwd = Path(os.readlink(process / "cwd"))
        except OSError:
            cwd = None
        if cwd is not None:
            candidates.append(Path(os.path.normpath(cwd / exe)).parent.parent)
    environ = _read(process / "environ") or b""
    for item in environ.split(b"\0"):
        if item.startswith(b"VIRTUAL_ENV="):
            candidates.append(Path(os.fsdecode(item[len(b"VIRTUAL_ENV="):])))
    for folder in candidates:
        if find_site_packages(folder):
            return folder
    return None
