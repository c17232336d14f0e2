"""A ComfyUI server's loader cache, as ``verify`` and ``checkout`` speak of it.

ComfyUI keeps a loaded model under its loader's inputs (the file name) until
``POST /free`` or a restart: after ``repro checkout`` puts another version of
a file back under the same name, a server that loaded the other version keeps
running it, and a re-run gives other pixels. What is in a server's memory
cannot be read from outside, so where repro knows the server (``--comfyui
URL`` or ``[comfyui] url``) it says so and what to do, and with ``free`` it
does it (``POST /free``).
"""

from __future__ import annotations

from dataclasses import dataclass

from repro.api.repository import Repository
from repro.errors import UsageError
from repro.record import Record


@dataclass(frozen=True)
class LoaderCache:
    """What was said of the server's cache: its ``url`` (None: not known), whether it
    was asked to unload its models (``freed``), and the ``note`` for the reader."""

    url: str | None
    freed: bool
    note: str


def server_url(repo: Repository, url: str | None) -> str | None:
    """The server named, else the config's ``[comfyui] url``."""
    configured = repo.config.get("comfyui", "url")
    return url or (str(configured) if configured else None)


def free_server(repo: Repository, url: str | None) -> str:
    """``POST /free`` to the server at ``url`` (or the config's); its URL."""
    from repro.api.comfyjob import runner_for

    runner = runner_for(repo, url)
    runner.free()
    return runner.url


def loader_cache(record: Record, url: str | None, *, freed: bool,
                 verb: str) -> LoaderCache | None:
    """The note for a ComfyUI ``record`` with models (None for any other), after
    ``verb`` (``verify`` or ``checkout``; the flag to give is ``repro VERB --free``)."""
    if record.tool.name != "comfyui" or not record.models:
        return None
    where = f"ComfyUI at {url}" if url else "a running ComfyUI"
    if freed:
        return LoaderCache(url, True, f"{where} unloaded its models (POST /free): its next "
                                      "run loads every model file from disk")
    return LoaderCache(url, False, (
        f"{where} keeps each loaded model by file name until POST /free or a restart: if it "
        "loaded another version under the same name (before a checkout, say), a re-run uses "
        f"that one and gives other pixels; run `repro {verb} --free` (it sends POST /free) "
        "or restart the server before re-running"))


def require_server(url: str | None) -> str:
    if not url:
        raise UsageError("which ComfyUI server?",
                         hint="give --comfyui URL or set [comfyui] url in .reprorc")
    return url
