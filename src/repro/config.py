"""Configuration: ``~/.reprorc`` then the project's ``.reprorc`` (TOML).

Every key is listed in ``DEFAULTS``; ``.reprorc.example`` documents each one
(a test keeps the two in step). Unknown keys are an error, so a typo never
silently does nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repro.errors import UsageError

#: How a file's bytes enter the store (see ``repro.objects.store``).
STORE_MODES = ("copy", "reflink", "hardlink", "reference")

DEFAULTS: dict[str, dict[str, Any]] = {
    "models": {"roots": ["models"]},
    "store": {"mode": "copy"},
    "capture": {"environment": True, "inputs": ["input"]},
    "comfyui": {"root": None, "url": None},
    "a1111": {"root": None},
    "invokeai": {"root": None},
    "gc": {"grace_days": 14},
    "lock": {"timeout": 60.0},
}


@dataclass
class Config:
    """Merged settings, with paths resolved against the project root."""

    root: Path
    values: dict[str, dict[str, Any]] = field(default_factory=lambda: copy.deepcopy(DEFAULTS))
    #: Roots found outside the config files (ComfyUI's extra_model_paths.yaml), set by the api.
    extra_model_roots: list[Path] = field(default_factory=list)

    def get(self, section: str, key: str) -> Any:
        return self.values[section][key]

    def _resolve(self, value: str) -> Path:
        """A configured path: ``~`` expanded, relative to the project root."""
        return (self.root / Path(value).expanduser()).resolve()

    def path(self, section: str, key: str) -> Path | None:
        value = self.values[section][key]
        return self._resolve(value) if value else None

    @property
    def model_roots(self) -> list[Path]:
        roots = [self._resolve(r) for r in self.get("models", "roots")]
        comfy = self.path("comfyui", "root")
        if comfy is not None:
            roots.append(comfy / "models")
        a1111 = self.path("a1111", "root")
        if a1111 is not None:
            roots.append(a1111 / "models")
            roots.append(a1111 / "embeddings")
        roots.extend(self.extra_model_roots)
        return list(dict.fromkeys(roots))

    @property
    def input_dirs(self) -> list[Path]:
        dirs = [self._resolve(d) for d in self.get("capture", "inputs")]
        comfy = self.path("comfyui", "root")
        if comfy is not None:
            dirs.append(comfy / "input")
        return dirs


def _merge(into: dict[str, dict[str, Any]], data: dict[str, Any], source: Path) -> None:
    for section, table in data.items():
        if section not in DEFAULTS or not isinstance(table, dict):
            raise UsageError(f"{source}: unknown section [{section}]",
                             hint="see .reprorc.example for every key")
        for key, value in table.items():
            if key not in DEFAULTS[section]:
                raise UsageError(f"{source}: unknown key {section}.{key}",
                                 hint="see .reprorc.example for every key")
            into[section][key] = value


def load_config(root: Path, *, home: Path | None = None,
                overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Config:
    """Read ``~/.reprorc`` and ``root/.reprorc`` (the project wins), then ``overrides``
    (``{"lock": {"timeout": 5.0}}``: what a command's options say wins over both)."""
    import tomllib  # only commands that open a project pay for it

    config = Config(root=root)
    home = home if home is not None else Path.home()
    for source in (home / ".reprorc", root / ".reprorc"):
        if not source.is_file():
            continue
        try:
            data = tomllib.loads(source.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise UsageError(f"{source}: not valid TOML ({exc})") from None
        _merge(config.values, data, source)
    if overrides:
        _merge(config.values, {k: dict(v) for k, v in overrides.items()}, Path("<options>"))
    mode = config.get("store", "mode")
    if mode not in STORE_MODES:
        choices = ", ".join(STORE_MODES[:-1]) + " or " + STORE_MODES[-1]
        raise UsageError(f"store.mode must be {choices}, not {mode!r}")
    return config
