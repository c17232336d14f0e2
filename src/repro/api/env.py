"""``repro env``: the environment a capture records, on its own (needs no repository)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from repro.errors import NotARepository

if TYPE_CHECKING:
    from repro.config import Config


def env(start: Path, *, comfyui_root: Path | None = None, a1111_root: Path | None = None,
        invokeai_root: Path | None = None, comfyui: str | None = None) -> dict[str, Any]:
    """This machine's environment with the tool folders given; a folder not given
    comes from the config of the repository at or above ``start``, when there is one.
    ``comfyui`` (a URL; default config ``comfyui.url``): also ask that running server
    (``/system_stats``), which raises ``ServerUnreachable`` if it does not answer."""
    from repro.environment.current import current_environment

    config = _config(start)
    environment = current_environment(
        comfyui_root=_root(comfyui_root, config, "comfyui"),
        a1111_root=_root(a1111_root, config, "a1111"),
        invokeai_root=_root(invokeai_root, config, "invokeai"))
    url = comfyui or (config.get("comfyui", "url") if config is not None else None)
    if url:
        from repro.comfyui.client import ComfyClient
        from repro.comfyui.system_stats import server_environment

        _raw, stats = ComfyClient(url, timeout=5.0).system_stats()
        environment = server_environment(stats, environment, url=url)
    return environment


def _config(start: Path) -> Config | None:
    from repro.api.repository import Repository

    try:
        return Repository.discover(start).config
    except NotARepository:
        return None


def _root(option: Path | None, config: Config | None, section: str) -> Path | None:
    if option is not None:
        return option.resolve()
    return config.path(section, "root") if config is not None else None
