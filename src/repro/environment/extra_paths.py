"""ComfyUI's ``extra_model_paths.yaml``, without a YAML dependency.

The files use a small YAML subset: top-level sections (``a1111:``,
``comfyui:``...), each a mapping of ``key: value`` where the value is one
path, a quoted path, or a ``|`` block of one path per line; ``base_path`` and
``is_default`` are settings, every other key names a model folder kind
(``checkpoints``, ``loras``...). ComfyUI joins each path to ``base_path``
(itself taken relative to the YAML file's folder) or, without one, to the
YAML file's folder. That is the subset parsed here; anything else (flow
mappings, anchors) is skipped with a warning rather than guessed at.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from repro.environment._files import read_text

_SETTINGS = ("base_path", "is_default")
_KEY = re.compile(r"^(?P<indent>[ \t]*)(?P<key>[^#:\s][^:#]*?)\s*:(?:\s+(?P<value>.*?))?\s*$")


def _strip_comment(value: str) -> str:
    if value[:1] in "\"'":
        quote = value[0]
        end = value.find(quote, 1)
        return value[1:end] if end > 0 else value[1:]
    # A '#' starts a comment only after whitespace in YAML.
    return re.split(r"\s+#", value, maxsplit=1)[0].strip()


def parse_extra_model_paths(text: str) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Parse the text of an ``extra_model_paths.yaml``.

    Returns ``({section: {"base_path"?: str, "is_default"?: bool, "folders":
    {kind: [path as written, ...]}}}, warnings)``. Paths are not resolved.
    """
    sections: dict[str, dict[str, Any]] = {}
    warnings: list[str] = []
    current: dict[str, Any] | None = None
    block_key: str | None = None
    block_indent = -1
    key_indent = -1
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" \t"))
        if block_key is not None and current is not None and indent > key_indent:
            # One path per line of a "|" block, however deeply indented.
            if block_indent < 0:
                block_indent = indent
            current["folders"][block_key].append(stripped)
            continue
        block_key = None
        m = _KEY.match(line)
        if not m:
            warnings.append(f"line {number}: not understood: {stripped[:80]!r}")
            continue
        key = m.group("key").strip().strip("\"'")
        value = (m.group("value") or "").strip()
        if indent == 0:
            current = {"folders": {}}
            sections[key] = current
            if value and not value.startswith("#"):
                warnings.append(f"line {number}: section {key!r} has an inline value; skipped")
                current = None
            continue
        if current is None:
            continue
        value = _strip_comment(value) if value else ""
        if key == "base_path":
            current["base_path"] = value
        elif key == "is_default":
            current["is_default"] = value.lower() in ("true", "yes", "on")
        elif value in ("|", "|-", "|+", ">", ">-"):
            block_key, key_indent, block_indent = key, indent, -1
            current["folders"][key] = []
        elif value.startswith(("[", "{", "&", "*")):
            warnings.append(f"line {number}: {key!r}: flow values and anchors are not supported")
        elif value:
            current["folders"][key] = [value]
    return sections, warnings


def resolve_extra_model_paths(
    path: str | os.PathLike[str], *, home: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Read and resolve an ``extra_model_paths.yaml`` file.

    Returns ``{"path", "folders": {kind: [absolute path, ...]}, "roots":
    [base paths], "warnings": [...]}``. Library code reads no environment
    variables, so ``~`` is expanded only when ``home`` is given and ``$VARS``
    are left as written (with a warning). A missing file gives empty lists.
    """
    yaml_path = Path(path)
    result: dict[str, Any] = {"path": str(yaml_path), "folders": {}, "roots": [], "warnings": []}
    text = read_text(yaml_path)
    if text is None:
        result["warnings"].append("cannot be read")
        return result
    sections, warnings = parse_extra_model_paths(text)
    result["warnings"].extend(warnings)
    yaml_dir = yaml_path.resolve().parent

    def resolve(p: str) -> str:
        if p.startswith("~") and home is not None:
            p = str(Path(home)) + p[1:]
        if "$" in p:
            result["warnings"].append(f"{p!r}: environment variables are not expanded")
        return os.path.normpath(os.path.join(yaml_dir, p))

    for section in sections.values():
        base = section.get("base_path")
        base_abs = resolve(base) if base else None
        if base_abs and base_abs not in result["roots"]:
            result["roots"].append(base_abs)
        for kind, paths in section["folders"].items():
            for p in paths:
                full = os.path.normpath(os.path.join(base_abs, p)) if base_abs else resolve(p)
                bucket = result["folders"].setdefault(kind, [])
                if full not in bucket:
                    bucket.append(full)
    return result


def comfyui_extra_model_roots(comfyui_root: Path) -> list[Path]:
    """Model roots named by ``comfyui_root/extra_model_paths.yaml`` (none when absent).

    Each section's ``base_path`` is a root; a folder listed for a kind is
    added through its parent when its name is one the resolver looks under
    (``.../models/Lora`` for ``loras`` gives ``.../models``), so a model is
    found by name as well as by content; other folders are roots themselves.
    """
    yaml = comfyui_root / "extra_model_paths.yaml"
    if not yaml.is_file():
        return []
    from repro.models.roots import FOLDERS

    extra = resolve_extra_model_paths(yaml)
    roots: list[Path] = [Path(p) for p in extra["roots"]]
    for kind, paths in extra["folders"].items():
        if kind == "custom_nodes":
            continue
        for p in map(Path, paths):
            roots.append(p.parent if p.name in FOLDERS.get(kind, ()) else p)
    return list(dict.fromkeys(roots))
