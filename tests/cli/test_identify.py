"""``repro identify``: a delivered copy, stripped, re-encoded, resized or cropped,
finds its record (issue 19)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from repro.api.repository import Repository
from repro.demo import comfy_graph, scene, set_mtime, write_comfy_png
from tests.helpers import run, run_json

Capsys = pytest.CaptureFixture[str]


def capture_scenes(project: Path, capsys: Capsys, seeds: range) -> dict[int, str]:
    """Scene outputs captured through the CLI: ``{seed: record id}``."""
    for seed in seeds:
        path = write_comfy_png(project / "outputs" / f"s{seed}.png",
                               comfy_graph(ckpt="base.safetensors", lora=None, lora_strength=0.0, seed=seed,
                                           prompt="a lighthouse"),
                               pixel_seed=seed, image=scene(seed, (384, 320)))
        set_mtime(path, 3600)
    out = run_json(capsys, "-C", project, "add", project / "outputs")
    return {int(Path(r["path"]).stem[1:]): r["id"] for r in out["records"]}


def save(im: Any, path: Path, **kw: Any) -> Path:
    im.save(path, **kw)
    return path


def identify(project: Path, capsys: Capsys, path: Path) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = run_json(capsys, "-C", project, "identify", path)
    return found


def test_copies_find_their_record(project: Path, capsys: Capsys, tmp_path: Path) -> None:
    ids = capture_scenes(project, capsys, range(6))
    original = project / "outputs" / "s3.png"
    im = Image.open(original)
    im.load()
    # The same bytes.
    [hit] = identify(project, capsys, original)
    assert (hit["id"], hit["distance"], hit["how"]) == (ids[3], 0, "bytes")
    assert hit["path"] == "outputs/s3.png"
    # The same pixels in another container (a PNG without metadata, lossless WebP).
    for copy in (save(im, tmp_path / "bare.png"), save(im, tmp_path / "c.webp", lossless=True)):
        hit = identify(project, capsys, copy)[0]
        assert (hit["id"], hit["distance"], hit["how"]) == (ids[3], 0, "pixels")
    # JPEG quality 70, half size, a 5% crop, and all three.
    w, h = im.size
    cropped = im.crop((round(w * 0.05), round(h * 0.05), w, h))
    copies = {
        "q70": save(im, tmp_path / "q70.jpg", quality=70),
        "half": save(im.resize((w // 2, h // 2)), tmp_path / "half.png"),
        "crop": save(cropped, tmp_path / "crop.png"),
        "all": save(cropped.resize((w // 2, h // 2)), tmp_path / "all.jpg", quality=70),
    }
    for name, copy in copies.items():
        found = identify(project, capsys, copy)
        assert found[0]["id"] == ids[3], name
        assert found[0]["how"] == "fingerprint" and found[0]["distance"] <= 10, name
        assert [f["distance"] for f in found] == sorted(f["distance"] for f in found)
    code, out, _ = run(capsys, "-C", project, "identify", copies["q70"])
    assert code == 0 and out.startswith(ids[3][:12]) and "fingerprint" in out


def test_an_unrelated_image_finds_nothing(project: Path, capsys: Capsys, tmp_path: Path) -> None:
    capture_scenes(project, capsys, range(4))
    other = save(scene(10_001, (384, 320)), tmp_path / "other.jpg", quality=85)
    code, out, err = run(capsys, "-C", project, "identify", other)
    assert code == 3 and out == ""
    assert "no captured output is close to it" in err and "hint:" in err
    code, _, err = run(capsys, "-C", project, "identify", save_bytes(tmp_path / "x.png", b"no"))
    assert code == 4


def save_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_outputs_captured_before_fingerprints_get_them(project: Path, capsys: Capsys,
                                                      tmp_path: Path) -> None:
    ids = capture_scenes(project, capsys, range(3))
    repo = Repository.discover(project)
    assert len(repo.index.prints()[0]) == 3  # computed at capture
    # A store captured before: no fingerprint rows at all.
    with repo.index.conn:
        repo.index.conn.execute("DELETE FROM output_prints")
    assert len(repo.index.outputs_without_prints()) == 3
    buf = io.BytesIO()
    Image.open(project / "outputs" / "s1.png").save(buf, "JPEG", quality=70)
    copy = save_bytes(tmp_path / "s1.jpg", buf.getvalue())
    assert identify(project, capsys, copy)[0]["id"] == ids[1]
    assert repo.index.outputs_without_prints() == []
    assert len(repo.index.prints()[0]) == 3


def test_the_part_probes_find_what_a_full_scan_finds() -> None:
    import random
    import sqlite3

    from repro.api.identify import _near
    from repro.lineage.index import Index
    from repro.lineage.perceptual import to_signed

    rng = random.Random(5)
    index = Index(sqlite3.connect(":memory:", isolation_level=None))
    stored = [rng.getrandbits(64) for _ in range(2000)]
    q = stored[0]
    # Near copies of q: up to 11 bits flipped, spread over the parts or all in one.
    near = [q ^ sum(1 << b for b in rng.sample(range(64), n)) for n in range(12)]
    near += [q ^ ((1 << 11) - 1) << 20]
    rows = stored + near
    index.add_prints((f"o{i}", None, to_signed(p)) for i, p in enumerate(rows))
    for limit in (6, 11):
        probed = sorted(_near(index, [q], limit))
        wanted = sorted({(f"o{i}", (p ^ q).bit_count()) for i, p in enumerate(rows)
                         if (p ^ q).bit_count() <= limit})
        assert sorted(set(probed)) == wanted
