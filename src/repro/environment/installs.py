"""What is installed in a tool's folder: version, git state, Python, custom nodes.

Each function takes the install's root folder and tolerates missing pieces:
a key is absent when that piece cannot be found. Nothing from the install is
imported or executed; versions are read from files as text.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from repro.environment._files import is_dir, list_dir, read_text
from repro.environment.compare import OUTPUT_PACKAGES
from repro.environment.extra_paths import resolve_extra_model_paths
from repro.environment.packages import find_site_packages, python_of_env, scan_sites
from repro.errors import InputError
from repro.jsonsafe import loads as json_loads

#: Folder names of a Python environment next to a tool, in the order looked for.
#: ``python_embeded`` (sic) is the ComfyUI Windows portable build's Python,
#: which sits beside the ``ComfyUI`` folder.
VENV_NAMES = ("venv", ".venv", "python_embeded", "python_embedded", "env")

#: Packages whose versions can change what an image looks like, or tell which build ran.
RELEVANT_PACKAGES = OUTPUT_PACKAGES | {
    # Recorded for the reader, though a change of version alone is not taken to
    # change pixels (torch itself is compared on its own).
    "torch", "torchaudio", "safetensors", "numpy", "accelerate", "einops", "kornia",
    "scipy", "pillow", "opencv-python", "opencv-python-headless", "comfyui-frontend-package",
}

_A1111_MODEL_DIRS = (
    "models/Stable-diffusion", "models/Lora", "models/LyCORIS", "models/VAE",
    "models/ControlNet", "models/ESRGAN", "models/RealESRGAN", "models/hypernetworks",
    "embeddings",
)


def find_python_env(root: str | Path) -> Path | None:
    """The venv or embedded Python of the install at ``root`` (or beside it), if any."""
    base = Path(root)
    for folder in (base, base.parent):
        for name in VENV_NAMES:
            candidate = folder / name
            if is_dir(candidate) and find_site_packages(candidate):
                return candidate
    return None


def python_env_info(env: Path) -> dict[str, Any]:
    """``{"python": {...}, "torch": {...}, "packages": {...}}`` of a Python environment folder.

    ``packages`` is limited to ``RELEVANT_PACKAGES``.
    """
    info: dict[str, Any] = {"path": str(env)}
    python = python_of_env(env)
    if python:
        info["python"] = python
    packages, torch = scan_sites(find_site_packages(env), RELEVANT_PACKAGES.__contains__)
    if torch:
        info["torch"] = torch
    relevant = {k: v for k, v in packages.items() if k in RELEVANT_PACKAGES}
    if relevant:
        info["packages"] = dict(sorted(relevant.items()))
    return info


def _git_fields(state: dict[str, Any] | None) -> dict[str, Any]:
    if state is None:
        return {}
    return {k: state[k] for k in ("commit", "branch", "dirty", "remote", "tag") if k in state}


def _plugin_folders(folder: Path, *, disabled_names: set[str] | None = None) -> list[dict[str, Any]]:
    """Git states of each plugin folder (custom node, extension) under ``folder``."""
    plugins: list[dict[str, Any]] = []
    for entry in list_dir(folder, limit=10_000):
        if not is_dir(entry) or entry.name in ("__pycache__",) or entry.name.startswith("."):
            continue
        name = entry.name
        disabled = False
        if name.endswith(".disabled"):
            name, disabled = name[: -len(".disabled")], True
        if disabled_names and entry.name in disabled_names:
            disabled = True
        item: dict[str, Any] = {"name": name, "path": str(entry)}
        state = _git_state(entry)
        if state is None:
            item["git"] = False
        else:
            item.update(_git_fields(state))
        if disabled:
            item["disabled"] = True
        plugins.append(item)
    return plugins


#: Largest single-file custom node hashed to tell its versions apart.
MAX_NODE_FILE = 4 * 1024 * 1024


def _single_file_nodes(folder: Path) -> list[dict[str, Any]]:
    """Custom nodes that are one ``.py`` file in ``custom_nodes/`` (ComfyUI loads those
    too); no git state of their own, so their content hash tells versions apart."""
    from repro.objects.hashing import hash_bytes

    nodes: list[dict[str, Any]] = []
    for entry in list_dir(folder, limit=10_000):
        if entry.suffix != ".py" or entry.name.startswith((".", "__init__")):
            continue
        try:
            if not entry.is_file() or entry.stat().st_size > MAX_NODE_FILE:
                continue
            data = entry.read_bytes()
        except OSError:
            continue
        nodes.append({"name": entry.name, "path": str(entry), "git": False, "file": True,
                      "blake3": hash_bytes(data)})
    return nodes


def _version_from_py(path: Path) -> str | None:
    text = read_text(path, limit=64 * 1024)
    if text is None:
        return None
    m = re.search(r"^__version__\s*=\s*(['\"])([^'\"]+)\1", text, re.MULTILINE)
    return m.group(2) if m else None


def comfyui_install(root: str | Path) -> dict[str, Any]:
    """Describe a ComfyUI install.

    Returns ``{"tool": "comfyui", "root", "version"? (``comfyui_version.py``),
    "git"? (see ``git_state``), "env"? (``{"path", "python", "torch",
    "packages"}`` of ``venv/``, ``.venv/`` or the portable ``python_embeded/``),
    "custom_nodes": [{"name", "path", "commit"?, "branch"?, "dirty"?,
    "remote"?, "tag"?, "git": False when not a repository, "disabled": True
    for ``*.disabled`` folders; a single-file node ``x.py`` has "file": True
    and its "blake3"}], "model_roots": [paths], "model_folders":
    {kind: [paths]} from ``extra_model_paths.yaml``, "warnings"?}``.
    """
    base = Path(root)
    info: dict[str, Any] = {"tool": "comfyui", "root": str(base)}
    version = _version_from_py(base / "comfyui_version.py")
    if version:
        info["version"] = version
    state = _git_state(base)
    if state is not None:
        info["git"] = state
    env = find_python_env(base)
    if env is not None:
        info["env"] = python_env_info(env)
    info["custom_nodes"] = [*_plugin_folders(base / "custom_nodes"),
                            *_single_file_nodes(base / "custom_nodes")]
    roots = [str(base / "models")]
    folders: dict[str, list[str]] = {}
    warnings: list[str] = []
    yaml = base / "extra_model_paths.yaml"
    if yaml.is_file():
        extra = resolve_extra_model_paths(yaml)
        warnings.extend(f"extra_model_paths.yaml: {w}" for w in extra["warnings"])
        for kind, paths in extra["folders"].items():
            folders.setdefault(kind, []).extend(paths)
        model_paths = [p for kind, ps in extra["folders"].items() if kind != "custom_nodes"
                       for p in ps]
        for path in [*extra["roots"], *model_paths]:
            if path not in roots:
                roots.append(path)
    info["model_roots"] = roots
    info["model_folders"] = folders
    if warnings:
        info["warnings"] = warnings
    return info


def _a1111_disabled_extensions(base: Path) -> set[str]:
    text = read_text(base / "config.json", limit=16 * 1024 * 1024)
    if text is None:
        return set()
    try:
        config = json_loads(text, what="config.json")
    except InputError:
        return set()
    names = config.get("disabled_extensions") if isinstance(config, dict) else None
    return {n for n in names if isinstance(n, str)} if isinstance(names, list) else set()


def a1111_install(root: str | Path) -> dict[str, Any]:
    """Describe an AUTOMATIC1111 (or Forge / reForge) install.

    Returns ``{"tool": "a1111", "root", "version"? (git-describe-like, as
    A1111 writes in ``Version:``), "git"?, "has_modules" (whether
    ``modules/`` exists, i.e. this looks like a webui folder), "env"?,
    "extensions": [like ComfyUI's custom nodes; ``disabled`` also from
    ``config.json`` ``disabled_extensions``], "model_roots": [existing
    ``models/Stable-diffusion``, ``models/Lora``... folders]}``.
    """
    base = Path(root)
    info: dict[str, Any] = {"tool": "a1111", "root": str(base)}
    state = _git_state(base)
    if state is not None:
        info["git"] = state
        from repro.environment.gitstate import describe

        version = describe(base, search_parents=False)
        if version:
            info["version"] = version
    info["has_modules"] = is_dir(base / "modules")
    env = find_python_env(base)
    if env is not None:
        info["env"] = python_env_info(env)
    info["extensions"] = _plugin_folders(base / "extensions",
                                         disabled_names=_a1111_disabled_extensions(base))
    roots = [str(base / "models")] if is_dir(base / "models") else []
    roots.extend(str(base / d) for d in _A1111_MODEL_DIRS if is_dir(base / d))
    info["model_roots"] = roots
    return info


def invokeai_install(root: str | Path) -> dict[str, Any]:
    """Describe an InvokeAI root folder.

    Returns ``{"tool": "invokeai", "root", "version"? (from the ``invokeai``
    distribution in the root's ``.venv``), "env"?, "model_roots":
    [``models/`` when present], "has_config" (``invokeai.yaml`` exists)}``.
    """
    base = Path(root)
    info: dict[str, Any] = {"tool": "invokeai", "root": str(base)}
    env = find_python_env(base)
    if env is not None:
        env_info = python_env_info(env)
        info["env"] = env_info
        version = env_info.get("packages", {}).get("invokeai")
        if version:
            info["version"] = version
    info["has_config"] = (base / "invokeai.yaml").is_file()
    info["model_roots"] = [str(base / "models")] if is_dir(base / "models") else []
    return info


def _git_state(path: Path) -> dict[str, Any] | None:
    """``gitstate.git_state`` of a folder, importing dulwich (20 ms) only when it is needed."""
    from repro.environment.gitstate import git_state

    return git_state(path, search_parents=False)
