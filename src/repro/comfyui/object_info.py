"""Which code provides each node class, from ``GET /object_info``.

The server answers ``{class_type: {"python_module": ..., "input": ...,
...}}``. ``python_module`` is ``nodes`` for the core nodes,
``comfy_extras.nodes_*`` / ``comfy_api_nodes.*`` for the other built-in
ones, and ``custom_nodes.<name>`` for a custom-node package, ``<name>``
being its folder (or, for a single-file node, the file name without
``.py``) under ``custom_nodes/`` (ComfyUI 0.3.64 ``nodes.py``
``get_module_name``, ``server.py`` ``node_info``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["CUSTOM_PREFIX", "node_modules", "package_of", "packages_used"]

#: ``python_module`` prefix of the classes a custom-node package provides.
CUSTOM_PREFIX = "custom_nodes."


def node_modules(object_info: Mapping[str, Any]) -> dict[str, str]:
    """``{class_type: python_module}`` for every class the answer describes with one."""
    found: dict[str, str] = {}
    for class_type, info in object_info.items():
        if isinstance(class_type, str) and isinstance(info, Mapping):
            module = info.get("python_module")
            if isinstance(module, str) and module:
                found[class_type] = module
    return found


def package_of(python_module: str) -> str | None:
    """The custom-node package a class comes from (its name under ``custom_nodes/``),
    or None for ComfyUI's own nodes."""
    if not python_module.startswith(CUSTOM_PREFIX):
        return None
    name = python_module[len(CUSTOM_PREFIX):]
    return name or None


def packages_used(class_types: Iterable[str], modules: Mapping[str, str]) -> set[str] | None:
    """The custom-node packages whose classes are among ``class_types``.

    None when a class is not in ``modules`` (e.g. a package removed since the
    answer was read): then which packages ran is not known.
    """
    used: set[str] = set()
    for class_type in class_types:
        module = modules.get(class_type)
        if module is None:
            return None
        package = package_of(module)
        if package is not None:
            used.add(package)
    return used
