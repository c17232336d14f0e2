"""API-format prompts for the end-to-end tests, and the fixture's real request bodies."""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.e2e.server import FIXTURES

CLIENT_ID = "repro-e2e"


def fixture_body(run: str, **inputs: Any) -> dict[str, Any]:
    """The exact ``POST /prompt`` body of a fixture run, with some literal inputs replaced.

    ``inputs`` maps ``"<node>.<input>"`` (as keyword: ``n4_filename_prefix``) to a new
    value; the UI workflow's widget holding the old value is changed to match, as
    the frontend would have sent it.
    """
    body: dict[str, Any] = json.loads((FIXTURES / f"prompt_{run}.json").read_text())
    for key, value in inputs.items():
        node, name = key.removeprefix("n").split("_", 1)
        spec = body["prompt"][node]["inputs"]
        old = spec[name]
        spec[name] = value
        workflow = body.get("extra_data", {}).get("extra_pnginfo", {}).get("workflow", {})
        for ui in workflow.get("nodes", []):
            if str(ui.get("id")) == node:
                ui["widgets_values"] = [value if v == old else v
                                        for v in ui.get("widgets_values", [])]
    return body


def body(graph: dict[str, Any]) -> dict[str, Any]:
    """A request body for an API-format graph (no UI workflow, as a script sends it)."""
    return {"client_id": CLIENT_ID, "prompt": copy.deepcopy(graph)}


def seeded_upscale(*, image: str, model: str, seed: int, prefix: str,
                   strength: float = 0.25) -> dict[str, Any]:
    """LoadImage -> ImageAddNoise(seed) -> ImageUpscaleWithModel -> SaveImage."""
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": image}},
        "2": {"class_type": "ImageAddNoise",
              "inputs": {"image": ["1", 0], "seed": seed, "strength": strength}},
        "3": {"class_type": "UpscaleModelLoader", "inputs": {"model_name": model}},
        "4": {"class_type": "ImageUpscaleWithModel",
              "inputs": {"upscale_model": ["3", 0], "image": ["2", 0]}},
        "5": {"class_type": "SaveImage", "inputs": {"images": ["4", 0],
                                                     "filename_prefix": prefix}},
    }


def upscale(*, image: str, model: str, prefix: str) -> dict[str, Any]:
    """LoadImage + UpscaleModelLoader -> ImageUpscaleWithModel -> SaveImage (fixture run 2)."""
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": image}},
        "2": {"class_type": "UpscaleModelLoader", "inputs": {"model_name": model}},
        "3": {"class_type": "ImageUpscaleWithModel",
              "inputs": {"upscale_model": ["2", 0], "image": ["1", 0]}},
        "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0],
                                                     "filename_prefix": prefix}},
    }


def two_branches(*, image_a: str, model_a: str, prefix_a: str, image_b: str, prefix_b: str,
                 seed_b: int, unconnected_model: str) -> dict[str, Any]:
    """Two independent branches in one prompt, and a loader nothing uses.

    A: LoadImage(image_a) + UpscaleModelLoader(model_a) -> upscale -> SaveImage(prefix_a).
    B: LoadImage(image_b) -> ImageAddNoise(seed_b) -> ImageScale -> SaveImage(prefix_b).
    An UpscaleModelLoader naming ``unconnected_model`` feeds nothing: ComfyUI never runs it.
    """
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": image_a}},
        "2": {"class_type": "UpscaleModelLoader", "inputs": {"model_name": model_a}},
        "3": {"class_type": "ImageUpscaleWithModel",
              "inputs": {"upscale_model": ["2", 0], "image": ["1", 0]}},
        "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0],
                                                     "filename_prefix": prefix_a}},
        "11": {"class_type": "LoadImage", "inputs": {"image": image_b}},
        "12": {"class_type": "ImageAddNoise",
               "inputs": {"image": ["11", 0], "seed": seed_b, "strength": 0.25}},
        "13": {"class_type": "ImageScale",
               "inputs": {"image": ["12", 0], "upscale_method": "bilinear", "width": 48,
                          "height": 48, "crop": "disabled"}},
        "14": {"class_type": "SaveImage", "inputs": {"images": ["13", 0],
                                                      "filename_prefix": prefix_b}},
        "21": {"class_type": "UpscaleModelLoader", "inputs": {"model_name": unconnected_model}},
    }


def with_node(graph: dict[str, Any], node: str, class_type: str, **inputs: Any) -> dict[str, Any]:
    graph = copy.deepcopy(graph)
    graph[node] = {"class_type": class_type, "inputs": inputs}
    return graph
