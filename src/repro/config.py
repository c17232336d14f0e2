"""Configuration: ``~/.reprorc`` then the project's ``.reprorc`` (TOML).

Every key is listed in ``DEFAULTS`` and checked by its entry in ``_CHECKS``;
``reprorc.example`` (in the package: ``repro config --example``; a copy at the top
of the source tree) documents each one (tests keep them in step). An
unknown key or a value of the wrong kind is an error naming the key and the
file, so a typo never silently does nothing. A configured folder that does not
exist is a warning (``Config.warnings``): a drive may be unplugged today.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repro.errors import UsageError

#: How a file's bytes enter the store (see ``repro.objects.store``).
STORE_MODES = ("copy", "reflink", "hardlink", "reference")

DEFAULTS: dict[str, dict[str, Any]] = {
    "models": {"roots": ["models"]},
    "store": {"mode": "copy"},
    "capture": {"environment": True, "inputs": ["input"], "outputs": ["output", "outputs"]},
    "comfyui": {"root": None, "url": None},
    "a1111": {"root": None},
    "invokeai": {"root": None},
    "gc": {"grace_days": 14},
    "lock": {"timeout": 60.0},
    "c2pa": {"cert": None, "key": None},
}

#: Where a value came from when no file set it.
DEFAULT_SOURCE = "default"
#: Where a value came from when a command's option set it.
OPTION_SOURCE = "command line"
_HINT = ("`repro config` shows every key, its value and where it came from; "
         "`repro config --example` prints a .reprorc that documents each one")


def _folders(value: Any) -> str | None:
    if isinstance(value, str):
        return f"must be a list of folders, e.g. [{value!r}], not a string"
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        return "must be a list of folder names (strings)"
    return None


def _folder(value: Any) -> str | None:
    return None if value is None or isinstance(value, str) else "must be a folder (a string)"


def _url(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        return "must be a URL such as \"http://127.0.0.1:8188\""
    return None


def _number(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a number, not {value!r}"
    return "must not be negative" if value < 0 else None


def _text(value: Any) -> str | None:
    return None if value is None or isinstance(value, str) else "must be a file path (text)"


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _mode(value: Any) -> str | None:
    if value in STORE_MODES:
        return None
    return f"must be {', '.join(map(repr, STORE_MODES[:-1]))} or {STORE_MODES[-1]!r}"


#: One check per key: None when the value is fine, else what is wrong with it.
_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "models.roots": _folders, "store.mode": _mode, "capture.environment": _boolean,
    "capture.inputs": _folders, "capture.outputs": _folders, "comfyui.root": _folder,
    "comfyui.url": _url, "a1111.root": _folder, "invokeai.root": _folder,
    "gc.grace_days": _number, "lock.timeout": _number, "c2pa.cert": _text, "c2pa.key": _text,
}
#: Keys whose values are folders (checked for existence when a file sets them).
_PATH_KEYS = ("models.roots", "capture.inputs", "capture.outputs", "comfyui.root",
              "a1111.root", "invokeai.root")


@dataclass
class Config:
    """Merged settings, with paths resolved against the project root."""

    root: Path
    values: dict[str, dict[str, Any]] = field(default_factory=lambda: copy.deepcopy(DEFAULTS))
    #: Where each ``section.key`` value came from: a file, the command line or the default.
    sources: dict[str, str] = field(default_factory=dict)
    #: Configured folders that do not exist, as messages.
    warnings: list[str] = field(default_factory=list)
    #: Roots found outside the config files (ComfyUI's extra_model_paths.yaml), set by the api.
    extra_model_roots: list[Path] = field(default_factory=list)

    def get(self, section: str, key: str) -> Any:
        return self.values[section][key]

    def source(self, section: str, key: str) -> str:
        return self.sources.get(f"{section}.{key}", DEFAULT_SOURCE)

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

    @property
    def output_dirs(self) -> list[Path]:
        """Folders where the tools save outputs (``repro status`` looks there)."""
        dirs = [self._resolve(d) for d in self.get("capture", "outputs")]
        comfy = self.path("comfyui", "root")
        if comfy is not None:
            dirs.append(comfy / "output")
        a1111 = self.path("a1111", "root")
        if a1111 is not None:
            dirs.append(a1111 / "outputs")
        return list(dict.fromkeys(dirs))

    def effective(self) -> dict[str, dict[str, Any]]:
        """``{"section.key": {"value", "source"}}`` for every key."""
        return {f"{s}.{k}": {"value": self.values[s][k], "source": self.source(s, k)}
                for s, table in DEFAULTS.items() for k in table}

    def _check_folders(self) -> None:
        for name in _PATH_KEYS:
            source = self.sources.get(name)
            if source is None:
                continue  # a default folder need not exist
            section, key = name.split(".")
            value = self.values[section][key]
            if value == DEFAULTS[section][key]:
                continue  # the default spelled out (a copied example): need not exist
            for item in value if isinstance(value, list) else [value]:
                if item and not self._resolve(item).is_dir():
                    self.warnings.append(f"{source}: {name}: {item!r} is not a folder "
                                         f"({self._resolve(item)})")


def _merge(config: Config, data: dict[str, Any], source: str) -> None:
    for section, table in data.items():
        if section not in DEFAULTS:
            raise UsageError(f"{source}: unknown section [{section}]", hint=_HINT)
        if not isinstance(table, dict):
            raise UsageError(f"{source}: {section} must be a table ([{section}])", hint=_HINT)
        for key, value in table.items():
            name = f"{section}.{key}"
            if key not in DEFAULTS[section]:
                raise UsageError(f"{source}: unknown key {name}", hint=_HINT)
            problem = _CHECKS[name](value)
            if problem:
                raise UsageError(f"{source}: {name} {problem}", hint=_HINT)
            config.values[section][key] = value
            config.sources[name] = source


def load_config(root: Path, *, home: Path | None = None,
                overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Config:
    """Read ``~/.reprorc`` and ``root/.reprorc`` (the project wins), then ``overrides``
    (``{"lock": {"timeout": 5.0}}``: what a command's options say wins over both)."""
    config = Config(root=root)
    home = home if home is not None else Path.home()
    for path in config_files(root, home=home):
        _merge(config, _read_toml(path), str(path))
    if overrides:
        _merge(config, {k: dict(v) for k, v in overrides.items()}, OPTION_SOURCE)
    config._check_folders()
    return config


def _read_toml(path: Path) -> dict[str, Any]:
    """The TOML table in ``path``. Only a command that finds a config file pays
    for importing tomllib (about 1.5 ms)."""
    import tomllib

    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None


def config_files(root: Path, *, home: Path | None = None) -> list[Path]:
    """The config files read for a project at ``root``, in order (later ones win)."""
    home = home if home is not None else Path.home()
    return list(dict.fromkeys(p for p in (home / ".reprorc", root / ".reprorc") if p.is_file()))
