"""``repro identify``: a delivered copy, stripped, re-encoded, resized or cropped,
finds its record (issue 19)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest
from PIL import Image

from repro.api.repository import Repository
from repro.demo import comfy_graph, scene, set_mtime, write_comfy_png
from tests.helpers import file_states, repro_subprocess, run, run_json

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
    assert (hit["id"], hit["distance"], hit["how"], hit["weak"]) == (ids[3], 0, "bytes", False)
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
        assert [f["weak"] for f in found] == [f["distance"] >= 8 for f in found]
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
    q, other = stored[0], stored[1]
    # Near copies of q and of another guess: up to 11 bits flipped, spread over the
    # parts or all in one.
    near = [g ^ sum(1 << b for b in rng.sample(range(64), n)) for g in (q, other)
            for n in range(12)]
    near += [q ^ ((1 << 11) - 1) << 20]
    rows = stored + near
    index.add_prints((f"{i:064x}", None, to_signed(p)) for i, p in enumerate(rows))
    for guesses in ([q], [q, other]):
        for limit in (6, 11, 14):
            wanted = {f"{i:064x}": d for i, p in enumerate(rows)
                      if (d := min((p ^ g).bit_count() for g in guesses)) <= limit}
            assert _near(index, guesses, limit) == wanted, (guesses, limit)
    # Fingerprints computed for this lookup only (not in the index) are matched too.
    fresh = _near(index, [q], 3, {"fresh": q ^ 0b101, "far": ~q & ((1 << 64) - 1)})
    assert fresh == {**_near(index, [q], 3), "fresh": 2}



def test_a_lookup_writes_nothing(project: Path, capsys: Capsys, tmp_path: Path) -> None:
    """Once every output has its fingerprint, identify is a pure reader."""
    ids = capture_scenes(project, capsys, range(3))
    copy = save(Image.open(project / "outputs" / "s2.png"), tmp_path / "s2.jpg", quality=70)
    assert identify(project, capsys, copy)[0]["id"] == ids[2]
    before = file_states(project / ".repro")
    for _ in range(2):
        proc = repro_subprocess("identify", copy, "--json", cwd=project)
        assert proc.returncode == 0 and orjson.loads(proc.stdout)[0]["id"] == ids[2]
    assert file_states(project / ".repro") == before


def test_fingerprints_the_index_cannot_keep_still_serve(
        project: Path, capsys: Capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store captured before fingerprints, whose index refuses writes (a full disk,
    another writer holding it): the fingerprints computed for the lookup serve it,
    and the next lookup that can write keeps them."""
    import sqlite3

    from repro.lineage.index import Index

    ids = capture_scenes(project, capsys, range(3))
    repo = Repository.discover(project)
    with repo.index.conn:
        repo.index.conn.execute("DELETE FROM output_prints")
    repo.close()
    copy = save(Image.open(project / "outputs" / "s1.png"), tmp_path / "s1.jpg", quality=70)

    def full(self: Index, *args: Any) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Index, "add_prints", full)
    monkeypatch.setattr(Index, "prints_checked", full)
    code, out, err = run(capsys, "-C", project, "identify", copy, "--json")
    assert code == 0 and orjson.loads(out)[0]["id"] == ids[1], err
    bare = save(Image.open(project / "outputs" / "s1.png"), tmp_path / "bare.png")
    [hit, *_] = identify(project, capsys, bare)
    assert (hit["id"], hit["how"]) == (ids[1], "pixels")
    monkeypatch.undo()
    repo = Repository.discover(project)
    assert len(repo.index.outputs_without_prints()) == 3
    assert identify(project, capsys, copy)[0]["id"] == ids[1]
    assert repo.index.outputs_without_prints() == []


def test_far_candidates_are_weak(project: Path, capsys: Capsys, tmp_path: Path) -> None:
    """A fingerprint 8 or more bits away is marked weak, in JSON and in text."""
    import random

    from repro.lineage.perceptual import query_prints, to_signed

    ids = capture_scenes(project, capsys, range(2))
    query = save(scene(20_002, (384, 320)), tmp_path / "query.png")
    found = query_prints(query)
    assert found is not None
    guesses = found[1]
    rng = random.Random(3)
    while True:  # a fingerprint 9 bits from the first guess, 8 to 10 from the nearest
        near = guesses[0] ^ sum(1 << b for b in rng.sample(range(64), 9))
        if 8 <= (distance := min((near ^ g).bit_count() for g in guesses)) <= 10:
            break
    repo = Repository.discover(project)
    output = repo.load_record(ids[0]).output.blake3
    repo.index.add_prints([(output, None, to_signed(near))])
    repo.close()
    [hit] = identify(project, capsys, query)
    assert (hit["id"], hit["distance"], hit["weak"]) == (ids[0], distance, True)
    code, out, err = run(capsys, "-C", project, "identify", query)
    assert code == 0 and f"{distance} of 64 bits differ; weak: check by eye" in out
    assert err.startswith("note: only weak candidates")
