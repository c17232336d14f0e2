"""``repro config``: the effective configuration and where each value came from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repro.api.repository import Repository
from repro.config import load_config
from repro.errors import NotARepository


@dataclass(frozen=True)
class EffectiveConfig:
    """Every key's value and source, the files read, and the folders they give."""

    root: Path | None
    files: tuple[str, ...]
    values: dict[str, dict[str, Any]]
    model_roots: tuple[str, ...]
    input_dirs: tuple[str, ...]
    output_dirs: tuple[str, ...]
    warnings: tuple[str, ...]

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return self.values


def effective_config(start: Path, *,
                     overrides: Mapping[str, Mapping[str, Any]] | None = None) -> EffectiveConfig:
    """The configuration a command run in ``start`` uses: the repository's when
    there is one at or above ``start``, else ``~/.reprorc`` with ``start`` as root."""
    from repro.config import config_files

    try:
        repo = Repository.discover(start, overrides=overrides)
    except NotARepository:
        root, config = None, load_config(start.resolve(), overrides=overrides)
    else:
        root, config = repo.root, repo.config
    return EffectiveConfig(
        root=root, files=tuple(map(str, config_files(config.root))), values=config.effective(),
        model_roots=tuple(map(str, config.model_roots)),
        input_dirs=tuple(map(str, config.input_dirs)),
        output_dirs=tuple(map(str, config.output_dirs)), warnings=tuple(config.warnings))


def example() -> str:
    """A ``.reprorc`` with every key, its default and what it does (shipped with the
    package, so a pip install has it too)."""
    from importlib.resources import files

    return files("repro").joinpath("reprorc.example").read_text(encoding="utf-8")
