"""``repro watch --comfyui`` against a loopback server replaying a real ComfyUI 0.3.64."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from repro.api.repository import Repository
from repro.comfyui.client import ComfyClient, ServerUnreachable
from repro.comfyui.history import failure
from repro.watch.comfyui import GAP_UNREACHABLE, ComfyFollower
from tests.comfyui.replay import RUNS, Replay, serve
from tests.helpers import run

OUTPUTS = {"empty": "repro_empty_00001_.png", "loadimage": "repro_loadimage_00001_.png",
           "upscale_v1": "repro_upscale_00001_.png", "chain": "repro_chain_00001_.png",
           "webp": "repro_webp_00001_.webp", "upscale_v2": "repro_upscale_00002_.png"}
V1 = "f52895d01b5349be40b1aa603cd9cbce1f6d67e54f5e49aa9368ee5ac4c7198d"
V2 = "8715f92eac085129a6eed7563094363f28df61be82c07ca5ff30c51a363bf88d"


def replay_soon(fixtures: Path) -> Replay:
    """The recording replayed as if its first job starts a minute from now: files the test
    writes are older than the jobs, as the real server's were (ctime cannot be set)."""
    return Replay(fixtures, start_ms=int(time.time() * 1000) + 60_000)


def _utime(path: Path, ms: float) -> None:
    os.utime(path, (ms / 1000, ms / 1000))


def comfy_install(tmp_path: Path, fixtures: Path, replay: Replay) -> tuple[Path, Path]:
    """A ComfyUI folder as the recorded server left it, and a project configured to use it.

    Outputs are dated when their job finished; the upscale model holds v2, copied over
    v1 between runs 4 and 5 (as the recording did), so its mtime falls between them.
    """
    comfy = tmp_path / "ComfyUI"
    for sub in ("output", "input", "models/upscale_models"):
        (comfy / sub).mkdir(parents=True)
    # The model first: its ctime (set now, whatever its mtime says) must not be later
    # than the outputs', or capture would take it as replaced after them.
    model = comfy / "models/upscale_models/tiny_compact_x2.safetensors"
    shutil.copyfile(fixtures / "tiny_compact_x2_v2.safetensors", model)
    swap = (replay.time_of("webp", "execution_success")
            + replay.time_of("upscale_v2", "execution_start")) / 2
    _utime(model, swap)
    for run_name, name in OUTPUTS.items():
        shutil.copyfile(fixtures / name, comfy / "output" / name)
        _utime(comfy / "output" / name, replay.time_of(run_name, "execution_success"))
    shutil.copyfile(fixtures / "repro_input.png", comfy / "input" / "repro_input.png")
    shutil.copyfile(fixtures / "repro_upscale_00001_.png",
                    comfy / "input" / "repro_upscale_00001_.png")
    project = tmp_path / "project"
    project.mkdir()
    (project / ".reprorc").write_text('[comfyui]\nroot = "../ComfyUI"\n')
    Repository.init(project)
    return comfy, project


def _events(out: str) -> list[dict[str, Any]]:
    """The --json event stream (read as concatenated JSON, whatever its line breaks)."""
    decoder = json.JSONDecoder()
    events: list[dict[str, Any]] = []
    i = 0
    while i < len(out):
        while i < len(out) and out[i].isspace():
            i += 1
        if i >= len(out):
            break
        value, i = decoder.raw_decode(out, i)
        events.append(value)
    return events


def _texts(record: dict[str, Any]) -> list[str]:
    return [r["text"] for r in record["reproducibility"]["reasons"]]


def _records(project: Path) -> dict[str, dict[str, Any]]:
    repo = Repository.discover(project)
    by_name = {}
    for record in repo.iter_record_objects():
        by_name[Path(record.output.path).name] = record.show()
    return by_name


def test_watch_comfyui_captures_each_run_with_the_executed_prompt_and_server(
        tmp_path: Path, comfy_fixtures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    replay = replay_soon(comfy_fixtures)
    comfy, project = comfy_install(tmp_path, comfy_fixtures, replay)
    with serve(replay) as url:
        code, out, err = run(capsys, "-C", project, "watch", "--comfyui", url, "--once", "--json")
    assert code == 0, err
    events = _events(out)
    # JSON Lines, as docs/cli.md says: one object per line (issue 12 item 13).
    assert [json.loads(line) for line in out.splitlines()] == events
    captured = {Path(e["path"]).name: e for e in events if e["event"] == "captured"}
    assert sorted(captured) == sorted(OUTPUTS.values())
    failed = [e for e in events if e["event"] == "failed"]
    assert [e["prompt_id"] for e in failed] == [replay.run_ids["error_missing_model"]]
    assert "missing_model.safetensors" in failed[0]["reason"]
    # Every finished run was asked for by id: the blob is that exact answer.
    for run_name in RUNS:
        assert f"/history/{replay.run_ids[run_name]}" in replay.requests

    records = _records(project)
    repo = Repository.discover(project)
    v2 = records["repro_upscale_00002_.png"]
    blobs = v2["source"]["blobs"]
    history_blob = repo.store.read_bytes(blobs["history"])
    assert history_blob == replay.entry_files[replay.run_ids["upscale_v2"]]
    assert repo.store.read_bytes(blobs["system_stats"]) == \
        (comfy_fixtures / "system_stats.json").read_bytes()
    assert "prompt" in blobs and "workflow" in blobs  # the file's own chunks are kept too
    assert "comfyui-history" in v2["source"]["formats"]
    env = v2["environment"]
    assert env["tool"] == "comfyui" and env["tool_version"] == "0.3.64"
    assert v2["tool"] == {"name": "comfyui", "version": "0.3.64"}
    assert env["torch"]["version"] == "2.14.1+cu130"
    assert env["python"]["version"] == "3.11.7"
    assert env["argv"][:2] == ["main.py", "--cpu"]
    assert env["gpu"][0]["type"] == "cpu"
    assert env["server"]["url"] == url
    assert "os" in env and "cpu" in env  # the local scan (loopback server) is kept under it
    [model] = v2["models"]
    assert model["role"] == "upscaler" and model["blake3"] == V2
    assert v2["reproducibility"]["level"] == "full", v2["reproducibility"]

    # Run 3 reused the loader cached by run 2; the file was replaced since: the trap.
    chain = records["repro_chain_00001_.png"]
    assert chain["reproducibility"]["level"] == "approximate"
    trap = [r["text"] for r in chain["reproducibility"]["reasons"] if "caches loaders" in r["text"]]
    assert len(trap) == 1 and "prompt #2" in trap[0] and "POST /free" in trap[0]
    assert [p["id"] for p in chain["parents"]] == [records["repro_upscale_00001_.png"]["id"]]
    webp = records["repro_webp_00001_.webp"]
    assert any("caches loaders" in r for r in _texts(webp))
    # Run 2 loaded the file afresh; only the after-the-fact mtime check applies.
    v1 = records["repro_upscale_00001_.png"]
    assert not any("caches loaders" in r for r in _texts(v1))
    assert any("modified after the output was made" in r
               for r in _texts(v1))
    assert model["blake3"] != V1

    # A restart (same server, same URL) captures nothing twice.
    follower = ComfyFollower(repo, ComfyClient(url), output_dir=comfy / "output")
    assert set(follower.prompts) == set(replay.run_ids.values())
    assert follower.prompts[replay.run_ids["error_missing_model"]] == "failed"
    with serve(replay, port=int(url.rsplit(":", 1)[1])):
        code, out, err = run(capsys, "-C", project, "watch", "--comfyui", url, "--once", "--json")
    assert code == 0, err
    assert _events(out) == []
    assert len(_records(project)) == len(OUTPUTS)


def _follower_setup(tmp_path: Path, fixtures: Path) -> tuple[Path, Repository, Replay]:
    replay = replay_soon(fixtures)
    comfy, project = comfy_install(tmp_path, fixtures, replay)
    for name in OUTPUTS.values():
        (comfy / "output" / name).unlink()  # each appears when its run finishes
    return comfy, Repository.discover(project), replay


def _finish(replay: Replay, comfy: Path, fixtures: Path, *runs: str) -> None:
    """Runs finish: their output files are written and their history entries appear."""
    for run_name in runs:
        if run_name in OUTPUTS:
            shutil.copyfile(fixtures / OUTPUTS[run_name], comfy / "output" / OUTPUTS[run_name])
        assert replay.visible is not None
        replay.visible.add(replay.run_ids[run_name])


def test_follow_runs_as_they_finish_then_an_outage(tmp_path: Path,
                                                   comfy_fixtures: Path) -> None:
    from repro.demo import comfy_graph, write_comfy_png
    from repro.environment.current import current_environment

    comfy, repo, replay = _follower_setup(tmp_path, comfy_fixtures)
    replay.visible = set()
    events: list[dict[str, Any]] = []
    with serve(replay) as url:
        follower = ComfyFollower(repo, ComfyClient(url, timeout=2), output_dir=comfy / "output",
                                 notify=events.append,
                                 environment=lambda: current_environment(comfyui_root=comfy))
        follower.poll()
        assert events == []
        _finish(replay, comfy, comfy_fixtures, "empty", "loadimage")
        follower.poll()
        assert sorted(Path(e["path"]).name for e in events if e["event"] == "captured") == \
            ["repro_empty_00001_.png", "repro_loadimage_00001_.png"]
        events.clear()

        # A preview and a temp file never count; a file saved while a job runs waits.
        (comfy / "output" / "ComfyUI_temp_abcde_00001_.png").write_bytes(b"x")
        (comfy / "temp").mkdir()
        graph = comfy_graph(ckpt="base.safetensors", lora=None, lora_strength=1.0, seed=7,
                            prompt="a lighthouse")
        write_comfy_png(comfy / "output" / "temp" / "preview.png", graph, pixel_seed=1)
        lone = write_comfy_png(comfy / "output" / "ComfyUI_00001_.png", graph, pixel_seed=2)
        replay.running = True
        follower.poll()
        follower.poll()
        assert events == []
        replay.running = False
        follower.poll()  # seen before this poll asked, queue idle, in no history entry
        [lone_event] = events
        assert lone_event["event"] == "captured" and lone_event["path"] == str(lone)
        assert any("history did not have it" in r for r in lone_event["reasons"])
        events.clear()

        # The server goes away; an output appears meanwhile; it comes back.
        replay.down = True
        late = write_comfy_png(comfy / "output" / "ComfyUI_00002_.png", graph, pixel_seed=3)
        follower.poll()
        follower.poll()
        assert [e["event"] for e in events] == ["unreachable"]
        replay.down = False
        _finish(replay, comfy, comfy_fixtures, "upscale_v1", "chain", "error_missing_model")
        follower.poll()
    kinds = [e["event"] for e in events]
    assert kinds[:2] == ["unreachable", "reachable"] and kinds.count("failed") == 1
    by_name = {Path(e["path"]).name: e for e in events if e["event"] == "captured"}
    assert sorted(by_name) == ["ComfyUI_00002_.png", "repro_chain_00001_.png",
                               "repro_upscale_00001_.png"]
    assert GAP_UNREACHABLE in by_name[late.name]["reasons"]
    record = repo.load_record(by_name["repro_chain_00001_.png"]["id"])
    assert "history" in record.source.blobs
    gap_record = repo.load_record(by_name[late.name]["id"])
    assert "history" not in gap_record.source.blobs
    assert gap_record.environment is not None  # the local scan, no server fields
    assert "server" not in gap_record.environment


def test_once_while_the_server_is_down_captures_from_files(tmp_path: Path,
                                                          comfy_fixtures: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    from repro.demo import comfy_graph, write_comfy_png

    comfy, repo, replay = _follower_setup(tmp_path, comfy_fixtures)
    replay.down = True
    with serve(replay) as url:
        # A follower that ran before: it remembers since when outputs are its business.
        ComfyFollower(repo, ComfyClient(url), output_dir=comfy / "output").save()
        graph = comfy_graph(ckpt="base.safetensors", lora=None, lora_strength=1.0, seed=9,
                            prompt="a harbour at dusk")
        made = write_comfy_png(comfy / "output" / "ComfyUI_00003_.png", graph, pixel_seed=4)
        code, out, err = run(capsys, "-C", repo.root, "watch", "--comfyui", url, "--once")
    # It says so by its exit code too (issue 12 item 13), after capturing what it could.
    assert code == ServerUnreachable.exit_code != 0, err
    assert "error: " in err and "captured from the files" in err
    assert "server unreachable" in err
    assert "added" in out and made.name in out
    assert GAP_UNREACHABLE in out


def test_failure_reads_the_recorded_error(comfy_fixtures: Path) -> None:
    entry = next(iter(orjson.loads(
        (comfy_fixtures / "history_error_missing_model.json").read_bytes()).values()))
    why = failure(entry)
    assert why is not None and str(why).startswith("node 2 UpscaleModelLoader:")
    assert (why.node, why.node_type) == ("2", "UpscaleModelLoader")
    ok = next(iter(orjson.loads((comfy_fixtures / "history_chain.json").read_bytes()).values()))
    assert failure(ok) is None
