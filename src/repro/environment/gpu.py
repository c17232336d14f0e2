"""GPU, driver and CUDA facts from NVIDIA's tools, parsed without needing a GPU.

The parsers take the text ``nvidia-smi`` (CSV query, ``-q -x`` XML, plain
table), ``/proc/driver/nvidia/version`` and ``python -m torch.utils.collect_env``
print. ``probe_gpu`` runs the probes on this machine, never hangs (short
timeouts) and returns ``{}`` when there is no NVIDIA GPU or tool.

GPU dicts share one shape across parsers: ``index``, ``name``, ``uuid``,
``memory_total_mib``, ``compute_capability`` (``"9.0"``), ``architecture``
(``"Hopper"``), ``pci_bus_id``, ``vbios``, ``driver``; absent when unknown.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repro.environment._files import read_text
from repro.errors import InputError, LimitExceeded

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

#: Fields ``probe_gpu`` asks ``nvidia-smi --query-gpu`` for (those of the H100 fixture).
QUERY_FIELDS = (
    "index", "name", "uuid", "driver_version", "memory.total", "compute_cap",
    "pci.bus_id", "vbios_version",
)

#: Largest tool output we parse (``nvidia-smi -q -x`` for 8 GPUs is ~250 KB).
MAX_TOOL_OUTPUT = 4 * 1024 * 1024

PROC_DRIVER_VERSION = Path("/proc/driver/nvidia/version")

# nvidia-smi query field -> key of our GPU dict.
_FIELD_KEYS = {
    "index": "index", "name": "name", "gpu_name": "name", "uuid": "uuid", "gpu_uuid": "uuid",
    "driver_version": "driver", "memory.total": "memory_total_mib",
    "compute_cap": "compute_capability", "pci.bus_id": "pci_bus_id", "gpu_bus_id": "pci_bus_id",
    "vbios_version": "vbios",
}

_MISSING = {"", "n/a", "[n/a]", "[not supported]", "not supported", "[unknown error]"}


def _check_size(text: str, what: str) -> None:
    if len(text) > MAX_TOOL_OUTPUT:
        raise LimitExceeded(f"{what}: {len(text)} characters is over the "
                            f"{MAX_TOOL_OUTPUT} limit")


def _mib(value: str) -> int | None:
    """``"81559 MiB"``/``"81559"`` -> 81559; other units converted; None if not a size."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(MiB|GiB|KiB|MB|GB)?\s*", value)
    if not m:
        return None
    number = float(m.group(1))
    unit = (m.group(2) or "MiB").lower()
    factor = {"mib": 1.0, "mb": 1.0, "gib": 1024.0, "gb": 1024.0, "kib": 1 / 1024, }[unit]
    return round(number * factor)


def _gpu_value(key: str, value: str) -> Any:
    if key == "index":
        return int(value) if value.isascii() and value.isdigit() else value
    if key == "memory_total_mib":
        return _mib(value)
    return value


def parse_nvidia_smi_csv(text: str, fields: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Parse ``nvidia-smi --query-gpu=... --format=csv[,noheader][,nounits]`` output.

    With a header line (``index, name, memory.total [MiB], ...``) the field
    names come from it; with ``noheader`` pass ``fields`` in query order
    (a header is still recognised and skipped when ``fields`` is given).
    Known fields get the shared GPU keys (see the module docstring; memory in
    MiB as int); unknown fields keep their nvidia-smi name. ``N/A`` and
    ``[Not Supported]`` values are left out. Raises ``InputError`` for rows
    whose column count does not match.
    """
    _check_size(text, "nvidia-smi CSV")
    lines = [line for line in text.splitlines() if line.strip()]
    names: list[str]
    if fields is not None:
        names = [f.strip() for f in fields]
        if lines and _looks_like_header(lines[0], names):
            lines = lines[1:]
    else:
        if not lines:
            return []
        # Header cells carry the unit in brackets: "memory.total [MiB]".
        names = [re.sub(r"\s*\[[^\]]*\]\s*$", "", cell.strip()) for cell in lines[0].split(",")]
        lines = lines[1:]
    gpus: list[dict[str, Any]] = []
    for line in lines:
        # GPU names and other values never contain ", " in practice; nvidia-smi
        # does not quote CSV cells, so a plain split is what it means.
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) != len(names):
            raise InputError(f"nvidia-smi CSV: row has {len(cells)} columns, "
                             f"header has {len(names)}: {line[:200]!r}")
        gpu: dict[str, Any] = {}
        for name, cell in zip(names, cells, strict=True):
            if cell.lower() in _MISSING:
                continue
            key = _FIELD_KEYS.get(name.lower(), name)
            value = _gpu_value(key, cell)
            if value is not None:
                gpu[key] = value
        gpus.append(gpu)
    return gpus


def _looks_like_header(line: str, names: Sequence[str]) -> bool:
    first = re.sub(r"\s*\[[^\]]*\]\s*$", "", line.split(",")[0].strip())
    return bool(names) and first.lower() == names[0].lower()


def _text(elem: ET.Element | None, path: str) -> str | None:
    if elem is None:
        return None
    found = elem.find(path)
    if found is None or found.text is None:
        return None
    value = found.text.strip()
    return None if value.lower() in _MISSING else value


def parse_nvidia_smi_xml(text: str) -> dict[str, Any]:
    """Parse ``nvidia-smi -q -x`` output.

    Returns ``{"driver"?, "cuda"?, "gpus": [gpu dicts]}``; ``cuda`` is the
    highest CUDA version the driver supports. Compute capability is only in
    some DTD versions (the v13 one of the H100 fixture has none), so it is
    absent unless present. Raises ``InputError`` for text that is not this
    XML, ``LimitExceeded`` past ``MAX_TOOL_OUTPUT``.
    """
    _check_size(text, "nvidia-smi XML")
    # ElementTree does not fetch the external DTD nvidia-smi names, but it would
    # expand internal entity declarations: refuse them (nvidia-smi never writes any).
    if "<!ENTITY" in text:
        raise InputError("nvidia-smi XML: entity declarations are not accepted")
    import xml.etree.ElementTree as ET  # 2 ms, and only this parser needs it

    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise InputError(f"nvidia-smi XML: not well-formed ({exc})") from None
    if root.tag != "nvidia_smi_log":
        raise InputError(f"nvidia-smi XML: root element is <{root.tag}>, not <nvidia_smi_log>")
    out: dict[str, Any] = {}
    driver = _text(root, "driver_version")
    if driver:
        out["driver"] = driver
    cuda = _text(root, "cuda_version")
    if cuda:
        out["cuda"] = cuda
    gpus: list[dict[str, Any]] = []
    for i, elem in enumerate(root.findall("gpu")):
        gpu: dict[str, Any] = {"index": i}
        minor = _text(elem, "minor_number")
        if minor is not None and minor.isascii() and minor.isdigit():
            gpu["minor_number"] = int(minor)
        for key, path in (("name", "product_name"), ("uuid", "uuid"),
                          ("architecture", "product_architecture"),
                          ("pci_bus_id", "pci/pci_bus_id"), ("vbios", "vbios_version")):
            value = _text(elem, path)
            if value:
                gpu[key] = value
        memory = _text(elem, "fb_memory_usage/total")
        if memory and (mib := _mib(memory)) is not None:
            gpu["memory_total_mib"] = mib
        cc = _text(elem, "compute_cap") or _text(elem, "cuda_compute_capability")
        if cc:
            gpu["compute_capability"] = cc
        gpus.append(gpu)
    out["gpus"] = gpus
    return out


def parse_nvidia_smi_text(text: str) -> dict[str, Any]:
    """The header of plain ``nvidia-smi``: ``{"driver"?, "cuda"?, "smi_version"?}``."""
    _check_size(text, "nvidia-smi output")
    out: dict[str, Any] = {}
    for key, pattern in (("smi_version", r"NVIDIA-SMI\s+([\d.]+)"),
                         ("driver", r"Driver Version:\s*([\d.]+)"),
                         ("cuda", r"CUDA Version:\s*([\d.]+)")):
        m = re.search(pattern, text)
        if m:
            out[key] = m.group(1)
    return out


def parse_proc_driver_version(text: str) -> dict[str, Any]:
    """Parse ``/proc/driver/nvidia/version``.

    ``NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build ...``
    gives ``{"driver": "580.159.04", "kernel_module": "NVIDIA UNIX Open Kernel
    Module for x86_64", "open_kernel_module": True, "gcc"?: "15.3.0"}``.
    Returns ``{}`` when there is no NVRM line.
    """
    out: dict[str, Any] = {}
    m = re.search(r"NVRM version:\s*(.*?)\s+(\d+\.\d+(?:\.\d+)*)(?:\s|$)", text)
    if m:
        out["driver"] = m.group(2)
        module = m.group(1).strip()
        if module:
            out["kernel_module"] = module
            out["open_kernel_module"] = "open" in module.lower()
    g = re.search(r"GCC version:.*?gcc version\s+(\S+)", text)
    if g:
        out["gcc"] = g.group(1)
    return out


def parse_torch_collect_env(text: str) -> dict[str, Any]:
    """Parse what ``python -m torch.utils.collect_env`` prints.

    Returns any of: ``torch``, ``debug_build`` (bool), ``cuda`` (CUDA torch
    was built with), ``rocm``, ``os``, ``gcc``, ``python``, ``python_platform``,
    ``cuda_available`` (bool), ``cuda_runtime``, ``gpus`` (names), ``driver``,
    ``cudnn`` (when collect_env names one version), ``cudnn_candidates``
    (versions of the system ``libcudnn`` files it lists after "Probably one of
    the following": torch may well load another one, e.g. from the
    ``nvidia-cudnn-cu*`` wheel), ``cpu`` (model name), ``packages``
    (``{name: version}`` from the ``[pip3]``/``[conda]`` lines).
    ``N/A`` and ``Could not collect`` values are left out.
    """
    _check_size(text, "collect_env output")
    fields: dict[str, str] = {}
    lines = text.splitlines()
    for line in lines:
        key, sep, value = line.partition(":")
        if sep and key and not key.startswith((" ", "[", "/")) and key not in fields:
            fields[key.strip()] = value.strip()

    def field(key: str) -> str | None:
        v = fields.get(key)
        if v is None or v.lower() in _MISSING or v.lower() == "could not collect":
            return None
        return v

    out: dict[str, Any] = {}
    simple = {
        "torch": "PyTorch version", "cuda": "CUDA used to build PyTorch",
        "rocm": "ROCM used to build PyTorch", "os": "OS", "gcc": "GCC version",
        "python_platform": "Python platform", "cuda_runtime": "CUDA runtime version",
        "driver": "Nvidia driver version", "cpu": "Model name",
    }
    for key, label in simple.items():
        v = field(label)
        if v:
            out[key] = v
    py = field("Python version")
    if py:
        out["python"] = py.split()[0]
    for key, label in (("debug_build", "Is debug build"), ("cuda_available", "Is CUDA available")):
        v = field(label)
        if v in ("True", "False"):
            out[key] = v == "True"
    gpus_text = field("GPU models and configuration")
    if gpus_text:
        out["gpus"] = re.findall(r"GPU \d+:\s*(.+?)(?=\s*GPU \d+:|$)", gpus_text) or [gpus_text]
    cudnn, candidates = _collect_env_cudnn(lines)
    if cudnn:
        out["cudnn"] = cudnn
    if candidates:
        out["cudnn_candidates"] = candidates
    packages: dict[str, str] = {}
    for line in lines:
        m = re.match(r"\[(?:pip\d*|conda)\]\s+(\S+?)==(\S+)", line.strip())
        if m:
            packages[m.group(1)] = m.group(2)
        else:
            m = re.match(r"\[conda\]\s+(\S+)\s+(\d\S*)\s", line.strip())
            if m:
                packages.setdefault(m.group(1), m.group(2))
    if packages:
        out["packages"] = packages
    return out


def _collect_env_cudnn(lines: list[str]) -> tuple[str | None, list[str]]:
    """(the one cuDNN version named, or None; candidate library versions)."""
    versions: list[str] = []
    single: str | None = None
    for i, line in enumerate(lines):
        if not line.startswith("cuDNN version:"):
            continue
        rest = line.partition(":")[2].strip()
        if rest.startswith("Probably one of the following"):
            for follow in lines[i + 1:]:
                m = re.search(r"libcudnn[\w]*\.so\.(\d+\.\d+\.\d+)", follow)
                if not m:
                    break
                versions.append(m.group(1))
        elif rest and rest.lower() not in _MISSING and rest != "Could not collect":
            m = re.search(r"(\d+\.\d+\.\d+)", rest)
            single = m.group(1) if m else rest
        break
    return single, sorted(set(versions), key=versions.index)


Runner = Callable[..., Any]


def _run(run: Runner, argv: list[str], timeout: float) -> str | None:
    """stdout of a probe command, or None if it is missing, fails or times out."""
    try:
        proc = run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, ValueError):
        return None
    except Exception as exc:
        import subprocess  # free: a runner that raised its errors imported it (not every add)

        if isinstance(exc, subprocess.SubprocessError):
            return None
        raise
    if getattr(proc, "returncode", 1) != 0:
        return None
    out = getattr(proc, "stdout", None)
    if isinstance(out, bytes):
        out = out.decode("utf-8", errors="replace")
    return out if isinstance(out, str) else None


def _run_if_installed(argv: list[str], **kwargs: Any) -> Any:
    """``subprocess.run`` that does not fork (8 ms) for a tool that is not on PATH."""
    if not on_path(argv[0]):
        raise FileNotFoundError(argv[0])
    import subprocess
    return subprocess.run(argv, **kwargs)


def on_path(name: str) -> bool:
    """Whether a program ``name`` is on PATH: ``shutil.which`` on Windows (PATHEXT),
    elsewhere a look in each folder, which spares every ``add`` importing shutil
    (with bz2 and lzma: about 1.2 ms)."""
    if os.name == "nt":
        import shutil

        return shutil.which(name) is not None
    for folder in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(folder or os.curdir, name)
        if os.access(candidate, os.X_OK) and os.path.isfile(candidate):
            return True
    return False


def probe_gpu(
    run: Runner = _run_if_installed,
    *,
    proc_path: Path = PROC_DRIVER_VERSION,
    timeout: float = 5.0,
) -> dict[str, Any]:
    """What this machine's NVIDIA GPUs are, without importing torch.

    Reads ``/proc/driver/nvidia/version`` for the driver, then runs
    ``nvidia-smi --query-gpu=<QUERY_FIELDS> --format=csv`` and, when that
    worked, plain ``nvidia-smi`` for the CUDA version the driver supports.
    Each command gets ``timeout`` seconds. Returns ``{"driver"?, "cuda"?,
    "kernel_module"?, "gpus": [...]}``, or ``{}`` when there is no NVIDIA
    driver or tool. Never raises for a missing, failing or hanging tool.
    """
    out: dict[str, Any] = {}
    text = read_text(proc_path, limit=64 * 1024)
    if text:
        proc = parse_proc_driver_version(text)
        for key in ("driver", "kernel_module"):
            if key in proc:
                out[key] = proc[key]
    csv = _run(run, ["nvidia-smi", f"--query-gpu={','.join(QUERY_FIELDS)}", "--format=csv"],
               timeout)
    gpus: list[dict[str, Any]] = []
    if csv is not None:
        try:
            gpus = parse_nvidia_smi_csv(csv)
        except InputError:
            gpus = []
    if gpus:
        drivers = {g.pop("driver") for g in gpus if "driver" in g}
        if len(drivers) == 1:
            out["driver"] = drivers.pop()
        header = _run(run, ["nvidia-smi"], timeout)
        if header is not None:
            try:
                cuda = parse_nvidia_smi_text(header).get("cuda")
            except InputError:
                cuda = None
            if cuda:
                out["cuda"] = cuda
    if not out and not gpus:
        return {}
    out["gpus"] = gpus
    return out
