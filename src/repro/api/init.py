"""``repro init``: create a repository, and fit its ``.reprorc`` to the folder.

A folder that is a ComfyUI install (``main.py`` beside ``comfy/``, or an
``extra_model_paths.yaml``), an AUTOMATIC1111 / Forge / SD.Next install
(``webui.py``), or holds one of them one level down (ComfyUI portable keeps
``ComfyUI/`` inside its folder) gets a ``.reprorc`` that names it, so that
its models, inputs and outputs are found from the first ``repro add``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repro.api.repository import Repository
from repro.objects.atomic import write_bytes


@dataclass(frozen=True)
class Found:
    """A tool install found in or just below the project folder."""

    tool: str          # "comfyui" | "a1111"
    root: str          # relative to the project root ("." for the root itself)
    why: str           # what showed it

    def to_dict(self) -> dict[str, str]:
        return {"tool": self.tool, "root": self.root, "why": self.why}


@dataclass(frozen=True)
class Initialised:
    root: Path
    found: tuple[Found, ...]
    #: The ``.reprorc`` written for what was found (None: none written).
    reprorc: Path | None
    #: An existing ``.reprorc`` left as it was, though an install was found.
    kept: Path | None

    def to_dict(self) -> dict[str, Any]:
        return {"root": str(self.root), "found": [f.to_dict() for f in self.found],
                "reprorc": str(self.reprorc) if self.reprorc else None,
                "kept": str(self.kept) if self.kept else None}


def detect(folder: Path) -> list[Found]:
    """ComfyUI and A1111-family installs at ``folder`` or one level below (first of each)."""
    found: dict[str, Found] = {}
    candidates = [folder]
    if folder.is_dir():
        candidates += sorted(p for p in folder.iterdir()
                             if p.is_dir() and not p.name.startswith("."))
    for candidate in candidates:
        rel = "." if candidate == folder else candidate.relative_to(folder).as_posix()
        if (candidate / "main.py").is_file() and (candidate / "comfy").is_dir():
            found.setdefault("comfyui", Found("comfyui", rel, "main.py and comfy/"))
        elif (candidate / "extra_model_paths.yaml").is_file():
            found.setdefault("comfyui", Found("comfyui", rel, "extra_model_paths.yaml"))
        if (candidate / "webui.py").is_file():
            found.setdefault("a1111", Found("a1111", rel, "webui.py"))
    return list(found.values())


def reprorc_text(found: list[Found]) -> str:
    """A ``.reprorc`` naming the installs found (their models, inputs and outputs follow)."""
    lines = ["# Written by `repro init` for the tool installs it found here;",
             "# `repro config` shows every key and where its value came from."]
    for f in found:
        what = "ComfyUI" if f.tool == "comfyui" else "AUTOMATIC1111 / Forge / SD.Next"
        lines += ["", f"# {what} ({f.why}): its models and outputs are searched; "
                      "its version is recorded", f"[{f.tool}]", f"root = {_toml_str(f.root)}"]
    return "\n".join(lines) + "\n"


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def init(path: Path) -> Initialised:
    """Create ``path/.repro``; write a ``.reprorc`` for the installs found there,
    unless one exists (it is kept as it is)."""
    repo = Repository.init(path)
    # The index is created here rather than by the first ``add``, whose fixed cost
    # it was (about 28 ms of SQLite tables and syncs).
    repo.index.count()
    repo.close()
    found = detect(repo.root)
    rc = repo.root / ".reprorc"
    if not found:
        return Initialised(repo.root, (), None, None)
    if rc.exists():
        return Initialised(repo.root, tuple(found), None, rc)
    write_bytes(rc, reprorc_text(found).encode("utf-8"), tmp_dir=repo.tmp_dir, mode=0o644)
    return Initialised(repo.root, tuple(found), rc, None)
