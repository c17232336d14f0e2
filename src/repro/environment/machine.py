"""The machine a generation ran on: OS, Python, CPU, host name.

Cheap and side-effect free: reads ``/etc/os-release`` and ``/proc/cpuinfo``
when present and asks the standard library for the rest; runs no subprocess.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from pathlib import Path
from typing import Any

from repro.environment._files import read_text
from repro.objects.platform import hostname

_OS_RELEASE = Path("/etc/os-release")
_CPUINFO = Path("/proc/cpuinfo")
# /proc/cpuinfo repeats every field per core; the first block is enough.
_CPUINFO_LIMIT = 256 * 1024


def parse_os_release(text: str) -> dict[str, str]:
    """``/etc/os-release`` as a dict: ``{"NAME": ..., "VERSION_ID": ..., ...}``.

    Values may be single- or double-quoted (freedesktop os-release(5));
    comments and malformed lines are skipped.
    """
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        out[key.strip()] = value
    return out


def parse_cpuinfo(text: str) -> dict[str, Any]:
    """CPU model name from ``/proc/cpuinfo`` (x86 ``model name``; ARM ``Model``/``Hardware``)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        if key not in fields and value.strip():
            fields[key] = value.strip()
    for key in ("model name", "cpu model", "model", "hardware", "processor"):
        found = fields.get(key)
        # On ARM "processor" is the core index and "model" a number on x86.
        if found and not re.fullmatch(r"\d+", found):
            return {"model": found}
    return {}


def machine_info() -> dict[str, Any]:
    """Describe this machine.

    Returns ``{"os": {"system", "release", "machine", "distro"?, "distro_version"?},
    "python": {"version", "implementation", "executable"}, "cpu": {"model"?, "count"?},
    "host"}``. Keys that cannot be known are absent.
    """
    os_info: dict[str, Any] = {
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
    }
    text = read_text(_OS_RELEASE)
    if text is not None:
        release = parse_os_release(text)
        distro = release.get("PRETTY_NAME") or release.get("NAME")
        if distro:
            os_info["distro"] = distro
        if release.get("ID"):
            os_info["distro_id"] = release["ID"]
        if release.get("VERSION_ID"):
            os_info["distro_version"] = release["VERSION_ID"]
    os_info = {k: v for k, v in os_info.items() if v}

    cpu: dict[str, Any] = {}
    text = read_text(_CPUINFO, limit=_CPUINFO_LIMIT)
    if text is not None:
        cpu.update(parse_cpuinfo(text))
    if not cpu.get("model") and platform.processor():
        cpu["model"] = platform.processor()
    count = os.cpu_count()
    if count:
        cpu["count"] = count

    info: dict[str, Any] = {
        "os": os_info,
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable or None,
        },
        "cpu": cpu,
    }
    info["python"] = {k: v for k, v in info["python"].items() if v}
    host = hostname()
    if host:
        info["host"] = host
    return info
