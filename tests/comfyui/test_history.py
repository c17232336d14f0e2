"""Reading ``/history`` entries: the recorded answers of a real ComfyUI 0.3.64."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from repro.capture.comfyui import parse_prompt_graph
from repro.comfyui.history import SavedOutput, executed_graph, saved_outputs
from repro.errors import InputError


def history_entry(folder: Path, name: str) -> dict[str, Any]:
    response = json.loads((folder / name).read_text())
    [entry] = response.values()
    assert isinstance(entry, dict)
    return entry


def test_history_upscale(comfy_fixtures: Path) -> None:
    entry = history_entry(comfy_fixtures, "history_upscale_v1.json")
    executed = executed_graph(entry)
    graph, flow, prompt_id = executed.graph, executed.workflow, executed.prompt_id
    assert prompt_id == "b3b36bcb-db55-4771-a402-0f9b59ef80bd"
    assert flow is not None and flow["last_node_id"] == 4
    assert saved_outputs(entry) == [SavedOutput(node="4", filename="repro_upscale_00001_.png",
                                                subfolder="", type="output")]
    gen = parse_prompt_graph(graph, flow, output_node="4")
    assert [(m.role, m.name, m.folder) for m in gen.models] == [
        ("upscaler", "tiny_compact_x2.safetensors", "upscale_models")]
    assert [(i.role, i.name) for i in gen.inputs] == [("image", "repro_input.png")]
    assert gen.level == "full" and "samplers" not in gen.params
    assert gen.provenance["frontend_version"] == "1.27.10"
    assert {"class_type": "UpscaleModelLoader", "cnr_id": "comfy-core",
            "ver": "0.3.64"} in gen.provenance["nodes"]


def test_history_chain_and_webp(comfy_fixtures: Path) -> None:
    chain = history_entry(comfy_fixtures, "history_chain.json")
    graph = executed_graph(chain).graph
    gen = parse_prompt_graph(graph)
    assert [i.name for i in gen.inputs] == ["repro_upscale_00001_.png"]
    webp = history_entry(comfy_fixtures, "history_webp.json")
    assert [o.filename for o in saved_outputs(webp)] == ["repro_webp_00001_.webp"]


def test_history_empty_image_graph_is_full(comfy_fixtures: Path) -> None:
    entry = history_entry(comfy_fixtures, "history_empty.json")
    executed = executed_graph(entry)
    graph, prompt_id = executed.graph, executed.prompt_id
    assert prompt_id == "d3ca5068-a0ba-4199-90cc-151adebe0826"
    gen = parse_prompt_graph(graph)
    assert gen.models == [] and gen.inputs == []
    assert gen.params == {"width": 64, "height": 64, "1.width": 64, "1.height": 64,
                          "1.batch_size": 1, "1.color": 3368652,
                          "2.filename_prefix": "repro_empty"}
    assert gen.level == "full"


def test_history_error_has_no_outputs(comfy_fixtures: Path) -> None:
    response = json.loads((comfy_fixtures / "history_error_missing_model.json").read_text())
    assert saved_outputs(response) == []  # the whole {prompt_id: entry} response works too
    graph = executed_graph(response).graph
    assert parse_prompt_graph(graph).models[0].name == "missing_model.safetensors"


def test_history_all_lists_every_run(comfy_fixtures: Path) -> None:
    response = json.loads((comfy_fixtures / "history_all.json").read_text())
    files = [f.filename for entry in response.values() for f in saved_outputs(entry)]
    assert len(response) == 7 and len(files) == 6


@pytest.mark.parametrize("entry", [
    {"prompt": "x"}, {"prompt": [1, 2, 3]}, {"prompt": [1, "id", []]}, [], {"outputs": {}}])
def test_malformed_history_entry(entry: Any) -> None:
    with pytest.raises(InputError):
        executed_graph(entry)
