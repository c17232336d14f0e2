"""The follower never says ``full`` when it cannot know which bytes ComfyUI used
(issue 12), shown with synthetic history entries on the replay server.

Each job is the recorded ``upscale_v2`` run (LoadImage + UpscaleModelLoader ->
ImageUpscaleWithModel -> SaveImage) with its own prompt id, queue number,
timestamps (now), cached nodes and output file.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from repro.api.repository import Repository
from repro.comfyui.client import ComfyClient
from repro.environment.compare import compare_environments
from repro.environment.current import current_environment
from repro.watch.comfyui import ComfyFollower
from tests.comfyui.replay import Replay, serve
from tests.watch.test_comfyui import V1, V2, comfy_install

MODEL = "models/upscale_models/tiny_compact_x2.safetensors"


class Server:
    """A replayed server with a ComfyUI folder, and a follower of it."""

    def __init__(self, tmp_path: Path, fixtures: Path) -> None:
        self.fixtures = fixtures
        self.replay = Replay(fixtures)
        self.comfy, project = comfy_install(tmp_path, fixtures, self.replay)
        self.repo = Repository.discover(project)
        self.replay.forget()
        self.model = self.comfy / MODEL
        self.put_model(V2)
        [self.template] = json.loads((fixtures / "history_upscale_v2.json").read_text()).values()
        self.events: list[dict[str, Any]] = []
        self.made = 0

    def put_model(self, version: str, *, keep_mtime: bool = False) -> None:
        """Write a version of the model over the file (``keep_mtime``: as ``cp -p`` does)."""
        before = self.model.stat()
        name = {V1: "tiny_compact_x2.safetensors", V2: "tiny_compact_x2_v2.safetensors"}
        shutil.copyfile(self.fixtures / name[version], self.model)
        if keep_mtime:
            os.utime(self.model, ns=(before.st_atime_ns, before.st_mtime_ns))
        time.sleep(0.01)  # the next job starts strictly after this change

    def job(self, number: int, *, cached: list[str], files: int = 1,
            graph: dict[str, Any] | None = None, error: dict[str, Any] | None = None,
            saved_by: str = "4") -> list[str]:
        """A finished job: its output files written, its history entry listed."""
        entry = copy.deepcopy(self.template)
        pid = f"job-{self.made}"
        entry["prompt"][0], entry["prompt"][1] = number, pid
        if graph is not None:
            entry["prompt"][2] = graph
        now = int(time.time() * 1000)
        names = []
        for _ in range(files):
            self.made += 1
            name = f"job_{self.made:05}_.png"
            Image.new("RGB", (8, 8), (self.made, 0, 0)).save(self.comfy / "output" / name)
            names.append(name)
        entry["outputs"] = {saved_by: {"images": [
            {"filename": n, "subfolder": "", "type": "output"} for n in names]}}
        end = ["execution_error", {"prompt_id": pid, "timestamp": now + 2, **error}] \
            if error is not None else ["execution_success", {"prompt_id": pid,
                                                             "timestamp": now + 2}]
        entry["status"] = {
            "status_str": "error" if error is not None else "success", "completed": True,
            "messages": [["execution_start", {"prompt_id": pid, "timestamp": now}],
                         ["execution_cached", {"nodes": cached, "prompt_id": pid,
                                               "timestamp": now}], end]}
        self.replay.add(pid, entry)
        return names

    def follower(self, url: str, **kw: Any) -> ComfyFollower:
        kw.setdefault("output_dir", self.comfy / "output")
        return ComfyFollower(self.repo, ComfyClient(url, timeout=5),
                             notify=self.events.append, **kw)

    def record(self, name: str) -> dict[str, Any]:
        [event] = [e for e in self.events if e.get("path", "").endswith(name)
                   and e["event"] in ("captured", "known")]
        return self.repo.load_record(event["id"]).to_dict()


@pytest.fixture
def server(tmp_path: Path, comfy_fixtures: Path) -> Server:
    return Server(tmp_path, comfy_fixtures)


def _reasons(record: dict[str, Any]) -> list[str]:
    return [r["text"] for r in record["reproducibility"]["reasons"]]


def test_a_restart_does_not_switch_the_cache_check_off(server: Server) -> None:
    """Item 1: after a restart, queue numbers start again; the follower notices once,
    not at every later job, and still knows which bytes the cached loader holds."""
    with serve(server.replay) as url:
        follower = server.follower(url)
        [a] = server.job(5, cached=[])
        follower.poll()
        server.replay.forget()  # the server restarts
        [b0] = server.job(0, cached=[])
        follower.poll()
        [b1] = server.job(1, cached=["1", "2"])
        follower.poll()
        server.put_model(V1, keep_mtime=True)  # replaced under the same name
        [b2] = server.job(2, cached=["1", "2"])
        follower.poll()
    for name in (a, b0, b1):
        record = server.record(name)
        assert record["reproducibility"]["level"] == "full", record["reproducibility"]
        assert record["models"][0]["blake3"] == V2
    record = server.record(b2)
    assert record["reproducibility"]["level"] != "full"
    # The record names the bytes the server had loaded, not the file's new ones.
    [model] = record["models"]
    assert model.get("blake3") != V1 and model["recorded"]["blake3"] == V2
    assert any("reused from ComfyUI's cache" in r and "prompt #0" in r and V2[:12] in r
               for r in _reasons(record))


def test_a_replacement_that_keeps_the_mtime_is_seen(server: Server) -> None:
    """Item 2: ``cp -p`` keeps the mtime; the inode's ctime and the hash still tell."""
    with serve(server.replay) as url:
        follower = server.follower(url)
        [fresh] = server.job(0, cached=[])
        follower.poll()
        server.put_model(V1, keep_mtime=True)
        [reused] = server.job(1, cached=["1", "2"])
        [reloaded] = server.job(2, cached=[])  # after POST /free: the new file is loaded
        follower.poll()
    assert server.record(fresh)["reproducibility"]["level"] == "full"
    record = server.record(reused)
    assert record["reproducibility"]["level"] == "approximate"
    assert record["models"][0]["recorded"]["blake3"] == V2
    record = server.record(reloaded)
    assert record["reproducibility"]["level"] == "full", record["reproducibility"]
    assert record["models"][0]["blake3"] == V1


def test_a_file_replaced_while_its_job_ran_is_not_full(server: Server) -> None:
    """Item 2: a fresh load whose file changed after the job started read unknown bytes;
    later jobs that reuse that cached loader are not full either."""
    with serve(server.replay) as url:
        follower = server.follower(url)
        [during] = server.job(0, cached=[])
        server.put_model(V1)  # written after the job started, before the follower looked
        [later] = server.job(1, cached=["1", "2"])
        follower.poll()
    for name in (during, later):
        assert server.record(name)["reproducibility"]["level"] == "approximate"
    assert any("what it loaded is not known" in r
               for r in _reasons(server.record(during)))


def _two_branches(missing: str) -> dict[str, Any]:
    def n(class_type: str, **inputs: Any) -> dict[str, Any]:
        return {"class_type": class_type, "inputs": inputs}

    return {
        "1": n("LoadImage", image="repro_input.png", upload="image"),
        "2": n("UpscaleModelLoader", model_name="tiny_compact_x2.safetensors"),
        "3": n("ImageUpscaleWithModel", upscale_model=["2", 0], image=["1", 0]),
        "4": n("SaveImage", filename_prefix="ok", images=["3", 0]),
        "12": n("UpscaleModelLoader", model_name=missing),
        "13": n("ImageUpscaleWithModel", upscale_model=["12", 0], image=["1", 0]),
        "14": n("SaveImage", filename_prefix="broken", images=["13", 0]),
    }


def test_a_failed_jobs_saved_output_is_captured_from_its_history(server: Server) -> None:
    """Item 6 (and 3): the branch that saved is captured, without the failing branch's
    missing model, and is not picked up again from the folder."""
    error = {"node_id": "12", "node_type": "UpscaleModelLoader", "executed": ["1", "2", "3", "4"],
             "exception_message": "Model in folder 'upscale_models' with filename "
                                  "'missing.safetensors' not found.",
             "exception_type": "FileNotFoundError"}
    with serve(server.replay) as url:
        follower = server.follower(url)
        [saved] = server.job(0, cached=[], graph=_two_branches("missing.safetensors"),
                             error=error)
        follower.poll(final=True)
        follower.poll(final=True)
    kinds = [e["event"] for e in server.events]
    assert kinds == ["failed", "captured"], server.events
    record = server.record(saved)
    assert [m["name"] for m in record["models"]] == ["tiny_compact_x2.safetensors"]
    assert record["reproducibility"]["level"] == "full", record["reproducibility"]
    assert any("the job failed after this output was saved" in w
               for w in record["source"]["warnings"])
    assert "comfyui-history" in record["source"]["formats"]


def test_an_unconnected_loader_does_not_touch_an_output(server: Server) -> None:
    """Item 3: ComfyUI runs only what output nodes need."""
    graph = _two_branches("missing.safetensors")
    del graph["13"], graph["14"]  # loader 12 is consumed by nothing
    with serve(server.replay) as url:
        follower = server.follower(url)
        [name] = server.job(0, cached=[], graph=graph)
        follower.poll()
    record = server.record(name)
    assert [m["name"] for m in record["models"]] == ["tiny_compact_x2.safetensors"]
    assert record["reproducibility"]["level"] == "full", record["reproducibility"]
    assert "12.model_name" not in record["params"]


def test_outputs_under_the_servers_output_directory_are_found(server: Server,
                                                              tmp_path: Path) -> None:
    """Item 9: ``--output-directory`` in the server's argv says where its files are."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    stats = json.loads((server.fixtures / "system_stats.json").read_text())
    stats["system"]["argv"] += ["--output-directory", str(elsewhere)]
    server.replay.stats = stats
    with serve(server.replay) as url:
        follower = server.follower(url, output_dir_given=False, server_root=server.comfy)
        [name] = server.job(0, cached=[])
        shutil.move(server.comfy / "output" / name, elsewhere / name)
        follower.poll()
    assert [e["event"] for e in server.events] == ["captured"], server.events
    assert server.events[0]["path"] == str(elsewhere / name)
    assert server.record(name)["reproducibility"]["level"] == "full"


def test_each_file_of_a_batch_records_its_index(server: Server) -> None:
    """Item 13: two outputs of one batch do not diff as "no differences"."""
    with serve(server.replay) as url:
        follower = server.follower(url)
        first, second = server.job(0, cached=[], files=2)
        follower.poll()
    assert server.record(first)["params"]["batch_index"] == 0
    assert server.record(second)["params"]["batch_index"] == 1


def test_custom_nodes_an_output_did_not_run_do_not_count(server: Server) -> None:
    """Item 8: /object_info says which package each class comes from."""
    nodes = server.comfy / "custom_nodes"
    (nodes / "ComfyUI-Unused").mkdir(parents=True)
    (nodes / "single_node.py").write_text("NODE_CLASS_MAPPINGS = {}\n")
    server.replay.object_info = {
        "LoadImage": {"python_module": "nodes"}, "SaveImage": {"python_module": "nodes"},
        "UpscaleModelLoader": {"python_module": "comfy_extras.nodes_upscale_model"},
        "ImageUpscaleWithModel": {"python_module": "comfy_extras.nodes_upscale_model"},
        "Sharpen": {"python_module": "custom_nodes.single_node"},
    }
    graph = _two_branches("x.safetensors")
    graph["13"] = {"class_type": "Sharpen", "inputs": {"image": ["1", 0]}}
    graph["14"]["inputs"]["images"] = ["13", 0]
    with serve(server.replay) as url:
        follower = server.follower(url, environment=lambda: current_environment(
            comfyui_root=server.comfy, refresh=True))
        [plain] = server.job(0, cached=[])
        [sharp] = server.job(1, cached=["1", "2"], graph=graph, saved_by="14")
        follower.poll()
    used = {n["name"]: n["used"] for n in server.record(plain)["environment"]["custom_nodes"]}
    assert used == {"ComfyUI-Unused": False, "single_node.py": False}
    recorded = server.record(sharp)["environment"]
    assert {n["name"]: n["used"] for n in recorded["custom_nodes"]} == {
        "ComfyUI-Unused": False, "single_node.py": True}
    # Both packages change; only the one the output ran changes its output.
    (nodes / "single_node.py").write_text("NODE_CLASS_MAPPINGS = {'Sharpen': None}\n")
    (nodes / "ComfyUI-Unused").rename(nodes / "ComfyUI-Unused.disabled")
    now = current_environment(comfyui_root=server.comfy, refresh=True)
    changes = {d["key"]: d["changes_output"] for d in compare_environments(recorded, now)
               if d["key"].startswith("custom_nodes.")}
    assert changes == {"custom_nodes.single_node.py": True,
                       "custom_nodes.ComfyUI-Unused": False}
