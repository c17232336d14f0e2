"""The HTML lineage picture: self-contained, and drawn by a real browser."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from repro.api.repository import Repository
from tests.helpers import run, run_json
from tests.lineage.scenario import build

#: Where the screenshots are kept: the folder of the test output (tests/output/, not
#: versioned), so that a person can look at what the browser drew.
ARTIFACTS = Path(__file__).resolve().parents[1] / "output"


def chromium() -> str:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.skip("chromium is not installed: apt-get install -y chromium")


@pytest.fixture
def page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, dict[str, str]]:
    build(tmp_path)
    assert run(capsys, "-C", tmp_path, "init")[0] == 0
    added = run_json(capsys, "-C", tmp_path, "add", "outputs", "--no-env")
    ids = {Path(r["path"]).name: r["id"] for r in added["records"]}
    code, _, err = run(capsys, "-C", tmp_path, "graph", "--format", "html", "-o", "lineage.html")
    assert code == 0, err
    return tmp_path / "lineage.html", ids


def test_page_is_self_contained(page: tuple[Path, dict[str, str]]) -> None:
    path, ids = page
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>")
    # No network: nothing is fetched from anywhere.
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
    assert "<script src" not in text and "<link" not in text
    # One thumbnail per output, embedded.
    assert text.count('"thumb":"data:image/webp;base64,') == 6
    for rid in ids.values():
        assert rid in text


def test_chromium_draws_thumbnails_and_edges(page: tuple[Path, dict[str, str]],
                                             tmp_path: Path) -> None:
    exe = chromium()
    path, ids = page
    profile = tmp_path / "profile"
    args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            f"--user-data-dir={profile}", "--window-size=1400,900"]
    dom = subprocess.run([*args, "--dump-dom", path.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    assert 'data-rendered="1"' in dom, "the page's script did not run to the end"
    thumbs = re.findall(r'<img src="data:image/webp;base64,[A-Za-z0-9+/=]+"', dom)
    assert len(thumbs) == 6
    edges = re.findall(r'<path [^>]*class="edge (\w+)"', dom)
    # img2img <- base and upscaled <- img2img; 5 images x (checkpoint + LoRA) + the upscaler.
    assert sorted(edges) == sorted(["input", "input"] + ["model"] * 11)
    assert f'data-source="{ids["base.png"]}" data-target="{ids["img2img.png"]}"' in dom
    assert "6 output(s), 3 model(s), 13 edge(s)" in dom
    assert 'data-cut-names="0"' in dom, "a node's name does not fit its box"
    screenshot(args, path.as_uri(), "lineage-scenario.png")


def screenshot(args: list[str], uri: str, name: str) -> Path:
    """A screenshot kept with the test output (its path is printed; ``-rP`` shows it)."""
    shot = ARTIFACTS / name
    shot.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([*args, f"--screenshot={shot}", uri], capture_output=True, timeout=120)
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")
    return shot


def browser(tmp_path: Path, size: str = "1400,900") -> list[str]:
    return [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={size}"]


def dump_dom(args: list[str], uri: str) -> str:
    dom = subprocess.run([*args, "--virtual-time-budget=3000", "--dump-dom", uri],
                         capture_output=True, text=True, timeout=120).stdout
    assert 'data-rendered="1"' in dom, "the page's script did not run to the end"
    return dom


def test_details_are_a_readable_table_that_fits(page: tuple[Path, dict[str, str]],
                                                tmp_path: Path) -> None:
    path, ids = page
    args = browser(tmp_path)
    uri = f"{path.as_uri()}#select={ids['img2img.png']}"
    dom = dump_dom(args, uri)
    table = re.search(r'<table class="params">(.*?)</table>', dom, re.S)
    assert table is not None, "no parameter table"
    assert "<th>denoise</th><td>0.6</td>" in table.group(1)
    assert not re.search(r"\d\.\d{10,}", table.group(1)), "a float printed raw"
    assert "<th>seed</th>" in table.group(1)
    assert 'data-overflow="0"' in dom, "the details panel scrolls sideways"
    screenshot(args, uri, "lineage-details.png")


def test_search_marks_what_matches(page: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    path, ids = page
    dom = dump_dom(browser(tmp_path), f"{path.as_uri()}#q=upscaled")
    assert 'data-found="1"' in dom
    assert re.search(rf'class="node output match"[^>]*data-id="{ids["upscaled.png"]}"', dom)
    assert dom.count("node output dim") == 5


def test_a_whole_store_is_laid_out_by_generation_with_versions_grouped(tmp_path: Path) -> None:
    """Sixty first-generation outputs wrap into columns; the two versions of one
    checkpoint sit together in one frame; every name is whole."""
    from repro.lineage.graph import layout, model_group
    from repro.lineage.graph_types import Edge, LineageGraph, Node
    from repro.lineage.render_html import render_html

    long_name = "dreamshaper_8_pruned_fp16_with_a_really_long_file_name.safetensors"
    models = [Node(f"model:{c * 64}", "model", long_name,
                   {"role": "checkpoint", "name": long_name, "blake3": c * 64, "path": None})
              for c in "ab"]
    models.append(Node("model:" + "c" * 64, "model", "style.safetensors",
                       {"role": "lora", "name": "style.safetensors", "blake3": "c" * 64}))
    outputs = [Node(f"{n:064x}", "output", f"ComfyUI_{n:05}_.png",
                    {"path": f"outputs/ComfyUI_{n:05}_.png", "tool": "comfyui", "seed": n,
                     "level": "full", "captured_at": f"2026-01-01T00:{n:02}:00"})
               for n in range(60)]
    child = Node("f" * 64, "output", "upscaled.png", {"level": "full", "tool": "comfyui"})
    edges = [Edge(models[n % 2].id, o.id, "model") for n, o in enumerate(outputs)]
    edges += [Edge(outputs[0].id, child.id, "input")]
    graph = LineageGraph([*outputs, child, *models], edges, None, False)
    places = layout(graph)
    model_columns = {places[m.id][0] for m in models}
    first = {places[o.id][0] for o in outputs}
    assert model_columns == {0}
    assert len(first) > 1 and min(first) == 1  # wrapped: not one tall column
    assert places[child.id][0] > max(first)  # the next generation comes after
    rows = sorted((places[m.id][1], model_group(m)) for m in models)
    assert [g for _, g in rows][:2] == [model_group(models[0])] * 2  # versions side by side
    page = tmp_path / "store.html"
    page.write_text(render_html(graph, places, groups=model_group))
    args = browser(tmp_path, "1600,1000")
    dom = dump_dom(args, page.as_uri())
    assert re.search(r'class="group"[^>]*>.*?2 versions</span>', dom, re.S)
    assert 'data-cut-names="0"' in dom
    screenshot(args, page.as_uri(), "lineage-store.png")


def test_numbers_read_as_people_write_them() -> None:
    from repro.lineage.render_html import readable

    assert readable(0.8700000000000001) == "0.87"
    assert readable(2**64 - 1) == str(2**64 - 1)
    assert readable(7.0) == "7" and readable(1e-7) == "1e-07" and readable(True) == "true"


def test_graph_without_repository_objects_still_renders(
        page: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]) -> None:
    path, ids = page
    root = path.parent
    repo = Repository.discover(root)
    blake3 = repo.load_record(ids["base.png"]).output.blake3
    thumb = repo.thumbs.id_of(blake3)
    assert repo.store.remove([blake3]) == 1  # loose or packed
    # Its thumbnail was made at capture: the page still shows it.
    code, out, _ = run(capsys, "-C", root, "graph", ids["base.png"], "--format", "html")
    assert code == 0
    assert out.count('"thumb":"data:image/') == 3 and '"thumb":null' not in out
    # Without the thumbnail either, the page says there is no preview.
    assert thumb is not None and repo.store.remove([thumb]) == 1
    code, out, _ = run(capsys, "-C", root, "graph", ids["base.png"], "--format", "html")
    assert code == 0
    assert out.count('"thumb":"data:image/') == 2 and '"thumb":null' in out
