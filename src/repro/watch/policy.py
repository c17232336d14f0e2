"""``watch()``: ``repro watch``'s decisions, from its options and the config."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from repro.api.repository import Repository
from repro.errors import UsageError
from repro.watch._common import Environment, Notify, quiet


def watch_environment(repo: Repository, *, comfyui: str | None, no_env: bool) -> Environment:
    """What ``environment()`` a watcher calls: None when environments are not recorded;
    for a server, this machine's scan only when it is the server's (loopback, or the
    install's folder is configured)."""
    config = repo.config
    record = not no_env and bool(config.get("capture", "environment"))
    comfy_root = config.path("comfyui", "root")

    def environment() -> dict[str, Any] | None:
        if not record:
            return None
        from repro.comfyui.client import is_loopback
        from repro.environment.current import current_environment

        # This machine's probe describes a server elsewhere only through its folder.
        if comfy_root is None and (comfyui is None or not is_loopback(comfyui)):
            return None
        return current_environment(comfyui_root=comfy_root)

    return environment


def watch(repo: Repository, folder: Path | None = None, *, comfyui: str | None = None,
          output_dir: Path | None = None, once: bool = False, interval: float = 1.0,
          allow_empty: bool = False, no_env: bool = False, mode: str | None = None,
          notify: Notify = quiet, stop: threading.Event | None = None) -> None:
    """Capture outputs as they are made, from ``folder`` or from the ComfyUI server at
    ``comfyui`` (exactly one); with ``once``, catch up and return. ``output_dir`` is the
    server's output folder (default: ``[comfyui] root``/output)."""
    if (folder is None) == (comfyui is None):
        raise UsageError("give either FOLDER or --comfyui URL",
                         hint="repro watch outputs/  or  repro watch --comfyui "
                              "http://127.0.0.1:8188")
    environment = watch_environment(repo, comfyui=comfyui, no_env=no_env)
    stop = stop or threading.Event()
    if comfyui is not None:
        from repro.watch.comfyui import follow_comfyui

        comfy_root = repo.config.path("comfyui", "root")
        out = output_dir or (comfy_root / "output" if comfy_root else None)
        if out is None:
            raise UsageError("where does the server save its outputs?",
                             hint="give --output-dir DIR or set [comfyui] root in .reprorc")
        record_env = not no_env and bool(repo.config.get("capture", "environment"))
        follow_comfyui(repo, comfyui, output_dir=out, once=once, interval=interval, stop=stop,
                       environment=environment, record_environment=record_env,
                       notify=notify, mode=mode, output_dir_given=output_dir is not None,
                       server_root=comfy_root)
        return
    from repro.api.environment_now import capture_environment
    from repro.watch.folder import watch_folder

    assert folder is not None
    watch_folder(repo, folder, once=once, interval=interval, stop=stop,
                 # A folder may hold outputs of several tools: each records its own.
                 environment=lambda: capture_environment(repo.config, no_env=no_env), notify=notify, allow_empty=allow_empty, mode=mode)
