"""The HTML lineage picture: self-contained, and drawn by a real browser."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from repro.api.repository import Repository
from repro.lineage.render_html import thumbnail
from tests.helpers import run, run_json
from tests.lineage.scenario import build


def chromium() -> str:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.skip("chromium is not installed: apt-get install chromium")


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
    assert text.count('"thumb":"data:image/jpeg;base64,') == 6
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
    thumbs = re.findall(r'<img src="data:image/(?:jpeg|png);base64,[A-Za-z0-9+/=]+"', dom)
    assert len(thumbs) == 6
    edges = re.findall(r'<path [^>]*class="edge (\w+)"', dom)
    # img2img <- base and upscaled <- img2img; 5 images x (checkpoint + LoRA) + the upscaler.
    assert sorted(edges) == sorted(["input", "input"] + ["model"] * 11)
    assert f'data-source="{ids["base.png"]}" data-target="{ids["img2img.png"]}"' in dom
    assert "6 output(s), 3 model(s), 13 edge(s)" in dom
    shot = tmp_path / "shot.png"
    subprocess.run([*args, f"--screenshot={shot}", path.as_uri()], capture_output=True,
                   timeout=120)
    assert shot.stat().st_size > 10_000


def test_thumbnail_bounds(tmp_path: Path) -> None:
    from PIL import Image

    im = Image.new("RGBA", (600, 300), (255, 0, 0, 128))
    im.save(tmp_path / "a.png")
    uri = thumbnail((tmp_path / "a.png").read_bytes())
    assert uri is not None and uri.startswith("data:image/png;base64,")
    assert thumbnail(b"not an image") is None
    assert thumbnail(b"\x89PNG\r\n\x1a\n" + b"\0" * 40) is None


def test_graph_without_repository_objects_still_renders(
        page: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]) -> None:
    path, ids = page
    root = path.parent
    repo = Repository.discover(root)
    blake3 = repo.load_record(ids["base.png"]).output.blake3
    stored = repo.store.path(blake3)
    stored.chmod(0o644)
    stored.unlink()
    code, out, _ = run(capsys, "-C", root, "graph", ids["base.png"], "--format", "html")
    assert code == 0
    assert out.count('"thumb":"data:image/') == 2 and '"thumb":null' in out
