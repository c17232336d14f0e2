"""Installed Python packages of a tool's environment, read as files.

Nothing here imports or runs the tool's Python: versions come from
``*.dist-info/METADATA`` and ``*.egg-info`` headers, torch's CUDA version from
``torch/version.py`` read as text. That works for any venv on disk, for any
Python version, and cannot execute code from it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from repro.environment._files import is_dir, list_dir, read_text
from repro.jsonsafe import loads as json_loads

# METADATA headers end at the first blank line; the long description after it
# can be megabytes, so only the head is read.
_HEADER_LIMIT = 64 * 1024
_DIST_SUFFIXES = (".dist-info", ".egg-info")


def normalize_name(name: str) -> str:
    """PEP 503 normalised distribution name: ``Pillow`` -> ``pillow``, ``a_b.c`` -> ``a-b-c``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_metadata_headers(text: str) -> dict[str, str]:
    """``Name``/``Version`` (and other single) headers of a METADATA or PKG-INFO text."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break
        if line[0] in " \t":
            continue
        key, sep, value = line.partition(":")
        if sep and key not in out:
            out[key.strip()] = value.strip()
    return out


def _name_version_from_folder(entry: Path) -> tuple[str, str] | None:
    stem = entry.name
    for suffix in _DIST_SUFFIXES:
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    # Wheel dist-info folders are "{name}-{version}" with "-" escaped to "_" in both.
    name, sep, version = stem.partition("-")
    if not sep or not version:
        return None
    version = version.split("-py")[0]
    return name, version


def _read_distribution(entry: Path) -> tuple[str, str] | None:
    if entry.name.endswith(".dist-info"):
        text = read_text(entry / "METADATA", limit=_HEADER_LIMIT)
    elif is_dir(entry):
        text = read_text(entry / "PKG-INFO", limit=_HEADER_LIMIT)
    else:
        # A single-file .egg-info is the PKG-INFO itself (distutils installs).
        text = read_text(entry, limit=_HEADER_LIMIT)
    if text is not None:
        headers = parse_metadata_headers(text)
        if headers.get("Name") and headers.get("Version"):
            return headers["Name"], headers["Version"]
    return _name_version_from_folder(entry)


#: Whether a distribution (by normalised name) is worth reading.
Wanted = Callable[[str], bool]


def read_site_packages(site_dir: str | Path, wanted: Wanted | None = None) -> dict[str, str]:
    """Distributions installed in one ``site-packages`` folder.

    Returns ``{normalised name: version}`` from every ``*.dist-info`` and
    ``*.egg-info`` entry; a missing or unreadable folder gives ``{}``. When a
    broken install left two entries for one name, the dist-info one wins.
    ``wanted`` leaves out, unread, every entry whose folder name names another
    distribution (as ``importlib.metadata`` finds one by its folder): a venv
    holds hundreds, each a file to open and parse, and few are recorded.
    """
    found: dict[str, str] = {}
    from_dist_info: set[str] = set()
    for entry in list_dir(Path(site_dir)):
        if not entry.name.endswith(_DIST_SUFFIXES):
            continue
        named = _name_version_from_folder(entry) if wanted is not None else None
        if wanted is not None and named is not None and not wanted(normalize_name(named[0])):
            continue
        dist = _read_distribution(entry)
        if dist is None:
            continue
        name = normalize_name(dist[0])
        if wanted is not None and not wanted(name):
            continue
        is_dist_info = entry.name.endswith(".dist-info")
        if name in from_dist_info and not is_dist_info:
            continue
        found[name] = dist[1]
        if is_dist_info:
            from_dist_info.add(name)
    return dict(sorted(found.items()))


def parse_pip_list_json(text: str) -> dict[str, str]:
    """``pip list --format=json`` output as ``{normalised name: version}``."""
    data = json_loads(text, what="pip list")
    out: dict[str, str] = {}
    if isinstance(data, list):
        for item in data:
            if isinstance(item, dict) and isinstance(item.get("name"), str) \
                    and isinstance(item.get("version"), str):
                out[normalize_name(item["name"])] = item["version"]
    return out


_ASSIGN = r"^{name}\s*(?::[^=\n]*)?=\s*(?:(['\"])(.*?)\1|(None))\s*(?:#.*)?$"


def parse_torch_version_py(text: str) -> dict[str, Any]:
    """Read ``torch/version.py`` as text.

    Returns any of ``version`` (``__version__``), ``cuda``, ``hip``,
    ``git_version``, ``cudnn``; ``None`` where the file says ``None`` (a CPU
    build has ``cuda = None``: known to have no CUDA).
    """
    out: dict[str, Any] = {}
    for key, name in (("version", "__version__"), ("cuda", "cuda"), ("hip", "hip"),
                      ("git_version", "git_version"), ("cudnn", "cudnn")):
        m = re.search(_ASSIGN.format(name=re.escape(name)), text, re.MULTILINE)
        if m:
            out[key] = None if m.group(3) else m.group(2)
    return out


def local_version_tag(version: str) -> str | None:
    """The local version label of a PEP 440 version: ``2.14.1+cu130`` -> ``cu130``."""
    _, sep, local = version.partition("+")
    return local if sep and local else None


def scan_sites(sites: Iterable[str | Path], wanted: Wanted | None = None
               ) -> tuple[dict[str, str], dict[str, Any]]:
    """(packages, torch) of site-packages folders, each folder's files read once;
    torch from the first folder that has it. ``wanted``: see ``read_site_packages``
    (torch's own and its GPU stack's are read whatever it says)."""
    if wanted is not None:
        wanted = _with_torch(wanted)
    packages: dict[str, str] = {}
    torch: dict[str, Any] = {}
    for site in sites:
        found = read_site_packages(site, wanted)
        packages.update(found)
        if not torch:
            torch = torch_info(site, found)
    return packages, torch


#: What ``torch_info`` reads of a folder's distributions.
TORCH_STACK = ("torch", "torchvision", "xformers", "triton")
CUDNN_PREFIX = "nvidia-cudnn"


def _with_torch(wanted: Wanted) -> Wanted:
    return lambda name: name in TORCH_STACK or name.startswith(CUDNN_PREFIX) or wanted(name)


def torch_info(site_dir: str | Path, packages: dict[str, str] | None = None) -> dict[str, Any]:
    """PyTorch and its GPU stack as installed in ``site_dir``, without running it.

    Returns any of ``version`` (``"2.14.1+cu130"``), ``local`` (``"cu130"``),
    ``cuda`` (from ``torch/version.py``; ``None`` for a CPU build), ``hip``,
    ``git_version``, ``cudnn`` (``nvidia-cudnn-cu*`` wheel, else
    ``torch/version.py`` if it names one), and the versions of ``torchvision``,
    ``xformers``, ``triton`` when installed. ``{}`` when torch is not there.
    ``packages`` is ``read_site_packages(site_dir)`` when the caller has it.
    """
    site = Path(site_dir)
    if packages is None:
        packages = read_site_packages(site)
    out: dict[str, Any] = {}
    text = read_text(site / "torch" / "version.py", limit=_HEADER_LIMIT)
    if text is not None:
        out.update({k: v for k, v in parse_torch_version_py(text).items()
                    if v is not None or k in ("cuda", "hip")})
    if "version" not in out and "torch" in packages:
        out["version"] = packages["torch"]
    if "version" not in out:
        return {}
    local = local_version_tag(out["version"])
    if local:
        out["local"] = local
    # Wheels from PyPI record only "2.11.0" in METADATA while version.py says
    # "2.11.0+cu130"; when version.py is missing the dist-info still names it.
    cudnn = next((v for k, v in packages.items() if k.startswith(CUDNN_PREFIX)), None)
    if cudnn:
        out["cudnn"] = cudnn
    for name in TORCH_STACK[1:]:
        if name in packages:
            out[name] = packages[name]
    return out


def find_site_packages(python_root: str | Path) -> list[Path]:
    """``site-packages`` folders of a venv or Python install at ``python_root``.

    Looks for ``lib/python3.*/site-packages`` (and ``lib64``) on POSIX and
    ``Lib/site-packages`` on Windows and in ComfyUI's portable
    ``python_embeded``, whose Python keeps packages there too.
    """
    root = Path(python_root)
    found: list[Path] = []
    for lib in ("lib", "lib64"):
        for entry in list_dir(root / lib):
            if entry.name.startswith("python3") and is_dir(entry / "site-packages"):
                found.append(entry / "site-packages")
    for lib in ("Lib", "lib"):
        candidate = root / lib / "site-packages"
        if is_dir(candidate) and candidate not in found:
            found.append(candidate)
    # lib64 is often a symlink to lib: keep one of each real folder.
    unique: list[Path] = []
    seen: set[Path] = set()
    for path in found:
        try:
            real = path.resolve()
        except OSError:
            real = path
        if real not in seen:
            seen.add(real)
            unique.append(path)
    return unique


def read_pyvenv_cfg(venv: str | Path) -> dict[str, str]:
    """``pyvenv.cfg`` of a venv as a dict (``version``/``version_info``, ``home``...)."""
    text = read_text(Path(venv) / "pyvenv.cfg", limit=_HEADER_LIMIT)
    out: dict[str, str] = {}
    if text is None:
        return out
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip().lower()] = value.strip()
    return out


def python_of_env(python_root: str | Path) -> dict[str, Any]:
    """Python version of a venv or install folder, from files only.

    ``pyvenv.cfg`` ``version_info``/``version`` when present, else the
    ``lib/python3.X`` folder name (minor version only) or a Windows
    ``python3X.dll``/``python3X._pth`` of an embedded Python.
    """
    root = Path(python_root)
    cfg = read_pyvenv_cfg(root)
    version = cfg.get("version_info") or cfg.get("version")
    if version:
        return {"version": version}
    for entry in list_dir(root / "lib"):
        m = re.fullmatch(r"python(3\.\d+)", entry.name)
        if m:
            return {"version": m.group(1)}
    for entry in list_dir(root, limit=10_000):
        m = re.fullmatch(r"python3(\d+)(?:\.dll|\._pth|\.zip)", entry.name, re.IGNORECASE)
        if m:
            return {"version": f"3.{m.group(1)}"}
    return {}
