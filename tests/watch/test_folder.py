"""``repro watch DIR``: complete files only, temp files ignored, bursts and restarts."""

from __future__ import annotations

import io
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path, PurePosixPath

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from repro.api.repository import Repository
from repro.demo import comfy_graph
from repro.watch.folder import FolderWatcher, container_complete, ignored
from tests.helpers import run


def _png(seed: int) -> bytes:
    """A ComfyUI-style PNG with its own pixels and seed, as bytes."""
    buf = io.BytesIO()
    graph = comfy_graph(ckpt="base.safetensors", lora=None, lora_strength=1.0, seed=seed,
                        prompt=f"image {seed}")
    info = PngInfo()
    info.add_text("prompt", json.dumps(graph))
    pixels = random.Random(seed).randbytes(16 * 16 * 3)
    Image.frombytes("RGB", (16, 16), pixels).save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


@pytest.mark.parametrize("rel, skip", [
    ("ComfyUI_00001_.png", False), ("sub/dir/a.webp", False), ("a.JPG", False),
    ("a.png.tmp", True), ("a.png.part", True), (".hidden.png", True), ("sub/.cache/a.png", True),
    ("temp/ComfyUI_00001_.png", True), ("ComfyUI_temp_bhxyz_00001_.png", True),
    ("notes.txt", True), ("model.safetensors", True),
])
def test_ignored(rel: str, skip: bool) -> None:
    assert ignored(PurePosixPath(rel)) is skip


def test_container_complete_judges_each_format_by_its_end(tmp_path: Path) -> None:
    from PIL import Image

    for fmt, ext in (("PNG", "png"), ("JPEG", "jpg"), ("WEBP", "webp")):
        buf = io.BytesIO()
        Image.new("RGB", (32, 32), (200, 10, 10)).save(buf, format=fmt)
        data = buf.getvalue()
        whole, cut = tmp_path / f"whole.{ext}", tmp_path / f"cut.{ext}"
        whole.write_bytes(data)
        cut.write_bytes(data[: len(data) - 5])
        assert container_complete(whole), fmt
        assert not container_complete(cut), fmt


def test_a_file_is_captured_only_once_completely_written(tmp_path: Path) -> None:
    repo = Repository.init(tmp_path / "project")
    folder = tmp_path / "out"
    folder.mkdir()
    events: list[dict[str, object]] = []
    watcher = FolderWatcher(repo, folder, notify=events.append)
    data = _png(1)
    target = folder / "ComfyUI_00001_.png"
    with open(target, "wb") as f:
        f.write(data[:100])
        f.flush()
        watcher.poll()
        watcher.poll()  # same size twice, but the PNG has no IEND yet
        assert events == []
        f.write(data[100:])
    watcher.poll()
    assert events == []  # changed since the last scan: wait one more
    watcher.poll()
    assert [e["event"] for e in events] == ["captured"]
    watcher.poll()
    # A restart with the state file: nothing again. A changed file is captured again.
    again = FolderWatcher(repo, folder, notify=events.append)
    again.poll()
    again.poll()
    assert len(events) == 1
    state = json.loads(again.state_file.read_text())
    assert state["files"] == {"ComfyUI_00001_.png": [len(data), target.stat().st_mtime_ns]}


def _writer(folder: Path, seeds: range, *, pause: float = 0.0) -> None:
    """Write images as a generator does: in two parts, through a partial file name."""
    for seed in seeds:
        data = _png(seed)
        part = folder / f"ComfyUI_{seed:05d}_.png.part"
        with open(part, "wb") as f:
            f.write(data[: len(data) // 2])
            f.flush()
            f.write(data[len(data) // 2:])
        os.replace(part, folder / f"ComfyUI_{seed:05d}_.png")
        if pause:
            time.sleep(pause)


def _captured_lines(path: Path) -> list[dict[str, object]]:
    text = path.read_text() if path.exists() else ""
    decoder = json.JSONDecoder()
    out: list[dict[str, object]] = []
    i = 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return out
        try:
            value, i = decoder.raw_decode(text, i)
        except json.JSONDecodeError:
            return out  # a half-written last object
        out.append(value)


def _start(project: Path, folder: Path, log: Path) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).with_name("repro")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPRO_")}
    with open(log, "ab") as sink:
        return subprocess.Popen([str(exe), "-C", str(project), "watch", str(folder),
                                 "--interval", "0.2", "--no-env", "--json"],
                                stdout=sink, stderr=subprocess.DEVNULL, env=env)


def _events(text: str) -> list[dict[str, object]]:
    decoder = json.JSONDecoder()
    out: list[dict[str, object]] = []
    i = 0
    while i < len(text):
        while i < len(text) and text[i].isspace():
            i += 1
        if i < len(text):
            value, i = decoder.raw_decode(text, i)
            out.append(value)
    return out


def test_burst_of_100_with_a_restart_in_the_middle(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "project"
    Repository.init(project)
    folder = tmp_path / "out"
    folder.mkdir()
    log = tmp_path / "watch.log"
    started = time.monotonic()
    watcher = _start(project, folder, log)
    # 100 images in about a second, while the watcher runs ...
    writer = threading.Thread(target=_writer, args=(folder, range(100)), kwargs={"pause": 0.01})
    try:
        writer.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(
                e["event"] == "captured" for e in _captured_lines(log)):
            time.sleep(0.02)
        # ... killed without warning mid-burst; the writer goes on while it is down.
        watcher.send_signal(signal.SIGKILL)
        watcher.wait(timeout=10)
    finally:
        writer.join()
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait(timeout=10)
    first = [e for e in _captured_lines(log) if e["event"] == "captured"]
    _writer(folder, range(100, 120))
    code, out, err = run(capsys, "-C", project, "watch", folder, "--once", "--no-env", "--json")
    assert code == 0, err
    elapsed = time.monotonic() - started
    second = _events(out)
    assert not any(e["event"] == "skipped" for e in second)
    paths = [str(e["path"]) for e in first + second if e["event"] == "captured"]
    assert len(paths) == len(set(paths)), "a file was captured twice"
    # A file captured just before the kill, not yet in the state file, is found "known"
    # (the index says it has a record) rather than captured again.
    known = [str(e["path"]) for e in second if e["event"] == "known"]
    assert {Path(p).name for p in paths + known} == \
        {f"ComfyUI_{n:05d}_.png" for n in range(120)}, "a file was missed"
    records = list(Repository.discover(project).iter_record_objects())
    assert len(records) == 120
    assert len({r.output.path for r in records}) == 120
    assert 0 < len(first) < 100
    print(f"burst: {len(first)} captured before the kill, "
          f"{sum(e['event'] == 'captured' for e in second)} after the restart "
          f"({len(known)} known), {elapsed:.1f} s in all")


def test_watch_prints_paths_as_add_does(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Relative to where the command ran, as ``add`` prints them."""
    project = tmp_path / "p"
    Repository.init(project)
    folder = project / "outputs"
    folder.mkdir()
    info = PngInfo()
    info.add_text("prompt", json.dumps(comfy_graph(ckpt="a.safetensors", lora=None,
                                                   lora_strength=1.0, seed=3, prompt="fox")))
    image = Image.new("RGB", (8, 8))
    image.save(folder / "ComfyUI_00001_.png", pnginfo=info)
    old = time.time() - 60
    os.utime(folder / "ComfyUI_00001_.png", (old, old))
    code, out, err = run(capsys, "-C", project, "watch", "outputs", "--once", "--no-env")
    assert code == 0, err
    assert " outputs/ComfyUI_00001_.png (" in out and str(project) not in out
