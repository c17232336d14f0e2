"""Issue 12 items 4, 5 and 10 with the replay server: ComfyUI's own input hash, the
install scan re-done when the server restarts, video and animated outputs."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from tests.comfyui.replay import serve
from tests.watch.test_comfyui_trust import Server


@pytest.fixture
def server(tmp_path: Path, comfy_fixtures: Path) -> Server:
    return Server(tmp_path, comfy_fixtures)


def _embed_prompt(path: Path, graph: dict[str, Any]) -> None:
    """Save ``path`` again with the executed prompt in its text chunk, as SaveImage does."""
    info = PngInfo()
    info.add_text("prompt", json.dumps(graph))
    with Image.open(path) as im:
        im.load()
        im.save(path, pnginfo=info)


def _record_id(server: Server, name: str) -> str:
    [event] = [e for e in server.events if e.get("path", "").endswith(name)
               and e["event"] == "captured"]
    return str(event["id"])


def test_an_input_overwritten_before_capture_is_not_taken_for_the_one_loaded(
        server: Server) -> None:
    """Item 4: the history has no ``is_changed``; the PNG SaveImage wrote does (the SHA-256
    of the bytes LoadImage read). The file overwritten since is not the input, and an
    output whose bytes it now holds is no parent."""
    source = server.comfy / "input" / "repro_input.png"
    used = hashlib.sha256(source.read_bytes()).hexdigest()
    with serve(server.replay) as url:
        follower = server.follower(url)
        [known] = server.job(0, cached=[])
        follower.poll()
        [out] = server.job(1, cached=[])
        graph = json.loads(json.dumps(server.template["prompt"][2]))
        graph["1"]["is_changed"] = [used]
        _embed_prompt(server.comfy / "output" / out, graph)
        shutil.copyfile(server.comfy / "output" / known, source)  # overwritten after the job
        follower.poll()
    known_id = _record_id(server, known)
    record = server.record(out)
    [entry] = record["inputs"]
    assert entry["recorded"]["sha256"] == used
    assert entry.get("blake3") is None, "recorded an input the job never read"
    assert known_id not in [p["id"] for p in record["parents"]], "a false parent"
    assert record["reproducibility"]["level"] != "full", record["reproducibility"]


def test_the_input_the_png_names_is_recorded_when_still_in_place(server: Server) -> None:
    """Item 4: an unchanged input matches the server's hash: the record is full."""
    source = server.comfy / "input" / "repro_input.png"
    used = hashlib.sha256(source.read_bytes()).hexdigest()
    with serve(server.replay) as url:
        follower = server.follower(url)
        [out] = server.job(0, cached=[])
        graph = json.loads(json.dumps(server.template["prompt"][2]))
        graph["1"]["is_changed"] = [used]
        _embed_prompt(server.comfy / "output" / out, graph)
        follower.poll()
    record = server.record(out)
    [entry] = record["inputs"]
    assert entry["recorded"]["sha256"] == used and entry["blake3"]
    assert record["reproducibility"]["level"] == "full", record["reproducibility"]


def _node(record: dict[str, Any]) -> dict[str, Any]:
    [node] = [n for n in record["environment"]["custom_nodes"] if n["name"] == "shift"]
    return node


def test_the_install_is_scanned_again_when_the_server_restarts(server: Server) -> None:
    """Item 5: a custom node edited in place (no git file, no folder time changes) is
    loaded by the server's next life; the follower scans again at the restart."""
    from repro.environment.current import clear_cache, current_environment
    from tests.environment.gitutil import commit, make_repo

    folder = server.comfy / "custom_nodes" / "shift"
    old = make_repo(folder, {"__init__.py": "AMOUNT = 0.1\n"})
    clear_cache()
    with serve(server.replay) as url:
        follower = server.follower(url, environment=lambda: current_environment(
            comfyui_root=server.comfy))
        [first] = server.job(5, cached=[])
        follower.poll()
        with open(folder / "__init__.py", "r+") as f:  # edited in place
            f.write("AMOUNT = 0.3\n")
        [same_life] = server.job(6, cached=["1", "2"])
        follower.poll()
        server.replay.forget()  # the server restarts and loads the edited node
        [second] = server.job(0, cached=[])
        follower.poll()
        new = commit(folder, {"__init__.py": "AMOUNT = 0.5\n"})
        [third] = server.job(1, cached=[])  # (a commit: the stamp sees it at once)
        follower.poll()
    clear_cache()
    assert _node(server.record(first)) == {**_node(server.record(first)), "commit": old,
                                            "dirty": False}
    assert _node(server.record(same_life))["dirty"] is False  # the server runs what it loaded
    assert _node(server.record(second))["dirty"] is True, "names the node's old state"
    assert _node(server.record(third))["commit"] == new


VIDEO = Path(__file__).parent.parent / "fixtures" / "video"


@pytest.mark.parametrize("name, saver, media_type", [
    ("comfy.mp4", "SaveVideo", "video/mp4"), ("comfy.webm", "SaveWEBM", "video/webm")])
def test_video_outputs_are_captured_with_the_executed_prompt(
        server: Server, name: str, saver: str, media_type: str) -> None:
    """Item 10: SaveVideo and SaveWEBM files (PyAV, as ComfyUI writes them, with the prompt
    as container tags) are captured from the history, not skipped as not images."""
    graph = json.loads(json.dumps(server.template["prompt"][2]))
    graph["4"] = {"class_type": saver, "inputs": {"filename_prefix": "vid", "images": ["3", 0]}}
    with serve(server.replay) as url:
        follower = server.follower(url)
        [made] = server.job(0, cached=[], graph=graph)
        out = (server.comfy / "output" / made).with_suffix(Path(name).suffix)
        (server.comfy / "output" / made).unlink()
        shutil.copyfile(VIDEO / name, out)
        entry = server.replay.history_all["job-0"]
        entry["outputs"] = {"4": {"images": [{"filename": out.name, "subfolder": "",
                                              "type": "output"}], "animated": [True]}}
        server.replay.add("job-0", entry)
        follower.poll()
    record = server.record(out.name)
    assert record["output"]["media_type"] == media_type
    assert record["tool"]["name"] == "comfyui"
    assert [m["name"] for m in record["models"]] == ["tiny_compact_x2.safetensors"]
    assert "comfyui-history" in record["source"]["formats"]
    assert {"history", "prompt"} <= set(record["source"]["blobs"])  # the container's tags too
    assert record["reproducibility"]["level"] == "full", record["reproducibility"]


def test_a_video_file_reads_its_container_tags() -> None:
    from repro.capture import read_file

    for name, media_type in (("comfy.mp4", "video/mp4"), ("comfy.webm", "video/webm")):
        gen = read_file(VIDEO / name)
        assert (gen.media_type, gen.tool, gen.level) == (media_type, "comfyui", "full")
        assert {"prompt", "workflow"} <= set(gen.blobs)
