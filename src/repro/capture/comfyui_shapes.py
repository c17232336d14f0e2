"""ComfyUI graphs recognised by their shape, wherever a saver put them.

Savers of JPEG and WebP put the graphs in EXIF with no common convention
(FORMATS.md R2.1): the whole API prompt as the UserComment text (Civitai,
with extra ``extra``/``extraMetadata`` keys), a ``{"prompt": ..., "workflow":
...}`` wrapper in an IFD0 UserComment, bare JSON in ``Make`` or
``ImageDescription``. A JSON object is an API graph when its node entries
carry ``class_type``, an editor workflow when it has ``nodes`` and
``links``, a wrapper when its ``prompt``/``workflow`` values are either
(possibly as JSON text).
"""

from __future__ import annotations

from typing import Any

from repro import jsonsafe
from repro.errors import InputError, LimitExceeded

#: Keys Civitai adds beside the nodes of an on-site graph.
_CIVITAI_KEYS = ("extra", "extraMetadata")


def is_api_graph(data: Any) -> bool:
    """Every entry (Civitai's extra keys aside) is a node with a ``class_type``."""
    if not isinstance(data, dict):
        return False
    nodes = [v for k, v in data.items() if k not in _CIVITAI_KEYS]
    return bool(nodes) and all(isinstance(n, dict) and isinstance(n.get("class_type"), str)
                               for n in nodes)


def is_ui_workflow(data: Any) -> bool:
    """An editor (litegraph) workflow: a ``nodes`` list and ``links``."""
    return isinstance(data, dict) and isinstance(data.get("nodes"), list) and "links" in data


def comfy_objects(data: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """``(prompt graph, workflow)`` a JSON object holds by shape; ``(None, None)`` if none."""
    if is_api_graph(data):
        return {k: v for k, v in data.items() if k not in _CIVITAI_KEYS}, None
    if is_ui_workflow(data):
        return None, data
    graph = _decoded(data.get("prompt"))
    flow = _decoded(data.get("workflow"))
    return (graph if is_api_graph(graph) else None), (flow if is_ui_workflow(flow) else None)


def _decoded(value: Any) -> Any:
    """A wrapper's value: an object, or JSON text of one (some savers encode twice)."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            return jsonsafe.loads(value, what="ComfyUI graph")
        except LimitExceeded:
            raise
        except InputError:
            return None
    return value
