"""The formats of issue 15 through the commands: ``inspect --json`` reads them and ``add``
records them (item 1: ComfyUI graphs in EXIF were "no generation metadata" and skipped)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.capture import formats as f
from tests.helpers import run_json

Capsys = pytest.CaptureFixture[str]

#: file name, bytes, (format, tool) inspect must give.
FILES = [
    ("civitai.jpg", lambda: f.comfy_civitai_jpeg(f.comfy_graph()), ("comfyui-exif", "comfyui")),
    ("wrapper.jpg", lambda: f.comfy_wrapper("JPEG", f.comfy_graph()), ("comfyui-exif", "comfyui")),
    ("wrapper.webp", lambda: f.comfy_wrapper("WEBP", f.comfy_graph()), ("comfyui-exif", "comfyui")),
    ("sdnext.png", lambda: f.png({"parameters": f.SDNEXT_PIPED}), ("a1111-png", "sdnext")),
    ("novelai.webp", f.novelai_webp, ("novelai-exif", "novelai")),
    ("swarm.png", f.swarm_comfy_png, ("comfyui-png", "swarmui")),
    ("ruined.png", f.ruinedfooocus_png, ("fooocus-png", "fooocus")),
    ("space.png", f.space_png, ("diffusers-png", "diffusers")),
]


def _write(root: Path) -> list[Path]:
    paths = []
    for name, make, _expected in FILES:
        path = root / "outputs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(make())
        paths.append(path)
    return paths


def test_inspect_reads_every_round2_format(project: Path, capsys: Capsys) -> None:
    entries = run_json(capsys, "-C", project, "inspect", "--json", *_write(project))
    got = [(e["format"], e["tool"]["name"]) for e in entries]
    assert got == [expected for _name, _make, expected in FILES]
    for entry in entries:
        assert entry["metadata"] == "execution" and entry["level"] != "none", entry
        assert not any("no generation metadata" in r or "no checkpoint" in r
                       for r in entry["reasons"]), entry["reasons"]


def test_add_records_comfyui_graphs_carried_in_exif(project: Path, capsys: Capsys) -> None:
    paths = _write(project)[:3]
    result = run_json(capsys, "-C", project, "add", *paths, "--no-env")
    assert result["skipped"] == []
    assert len(result["records"]) == 3
    for rec in result["records"]:
        # The graph's models are not under models/: recorded, never full.
        assert rec["state"] == "added" and rec["level"] in ("approximate", "partial"), rec
