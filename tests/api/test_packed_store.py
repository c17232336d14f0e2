"""A store whose small objects are packed works like a loose one for every
command that reads objects: fsck, gc, checkout, export, show, a rebuilt index,
push and clone; a damaged pack is one clear fsck line, and ``--repair`` keeps
what is still whole. Loose objects (a store written before packs) and packed
ones live side by side."""

from __future__ import annotations

import os
import shutil
import tarfile
import time
from pathlib import Path

import orjson
import pytest

from repro.api import maintenance
from repro.api.repository import Repository
from repro.demo import write_comfy_png
from tests.helpers import img2img_graph, make_output, run, run_json

Capsys = pytest.CaptureFixture[str]
V1_STORE = Path(__file__).resolve().parent.parent / "fixtures" / "store-v1" / "project.tar.gz"


def _packs(root: Path) -> list[Path]:
    return sorted((root / ".repro" / "objects" / "pack").glob("*.pack"))


def _loose(root: Path) -> list[str]:
    objects = root / ".repro" / "objects"
    return sorted(p.parent.name + p.name for p in objects.glob("??/*"))


def _add_many(capsys: Capsys, root: Path, n: int, first: int = 0) -> list[str]:
    paths = [make_output(root, f"img_{i:03d}.png", seed=100 + i) for i in range(first, first + n)]
    out = run_json(capsys, "-C", root, "add", *paths, "--no-env")
    return [r["id"] for r in out["records"]]


def _referenced(root: Path) -> set[str]:
    repo = Repository(root)
    try:
        wanted = set()
        for record in repo.iter_record_objects():
            wanted.add(record.id)
            wanted.update(oid for oid, _ in maintenance.referenced_objects(record))
        return wanted
    finally:
        repo.close()


def test_a_batch_is_packed_and_every_reader_finds_its_objects(
        project: Path, capsys: Capsys) -> None:
    ids = _add_many(capsys, project, 6)
    assert len(_packs(project)) == 1
    assert not set(ids) & set(_loose(project))  # the records are packed
    assert run_json(capsys, "-C", project, "fsck")["problems"] == []
    shown = run_json(capsys, "-C", project, "show", ids[2])
    assert shown["id"] == ids[2]
    # The prompt is a packed metadata blob.
    code, out, err = run(capsys, "-C", project, "export", ids[2], "--format", "api")
    assert code == 0, err
    assert any(node.get("class_type") == "KSampler" for node in orjson.loads(out).values())
    # The index is derived: rebuilt from packed records alone.
    (project / ".repro" / "index.sqlite").unlink()
    assert len(run_json(capsys, "-C", project, "log")) == 6
    # Thumbnails are packed objects too; the page draws them without decoding outputs.
    code, _, err = run(capsys, "-C", project, "graph", "--format", "html", "-o",
                       project / "g.html")
    assert code == 0, err
    assert (project / "g.html").read_text().count("data:image/webp") == 6


def test_checkout_restores_a_packed_output_and_input(project: Path, capsys: Capsys) -> None:
    source = make_output(project, "source.png", seed=1)
    (project / "input").mkdir()
    shutil.copy(source, project / "input" / "source.png")
    graph = img2img_graph(load_image="source.png", denoise=0.5, ckpt="base.safetensors",
                          lora="style.safetensors", lora_strength=0.8, seed=7, prompt="a fox")
    out = write_comfy_png(project / "outputs" / "derived.png", graph, pixel_seed=7)
    added = run_json(capsys, "-C", project, "add", source, out, "--no-env")
    assert len(_packs(project)) == 1
    derived = added["records"][1]["id"]
    data, input_data = out.read_bytes(), source.read_bytes()
    out.unlink()
    (project / "input" / "source.png").unlink()
    restored = run_json(capsys, "-C", project, "checkout", derived, "--output")
    assert [e["path"] for e in restored["restored"]] == ["outputs/derived.png"]
    assert out.read_bytes() == data
    run_json(capsys, "-C", project, "checkout", derived, "--inputs")
    assert (project / "input" / "source.png").read_bytes() == input_data


def test_gc_drops_unreferenced_objects_from_packs(project: Path, capsys: Capsys,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    _add_many(capsys, project, 3)
    repo = Repository(project)
    garbage = repo.store.put_many(f"unreferenced {i}".encode() for i in range(20))
    repo.close()
    assert len(_packs(project)) == 2
    now = time.time()
    monkeypatch.setattr(maintenance.time, "time", lambda: now + 30 * 86400)
    result = run_json(capsys, "-C", project, "gc")
    assert sorted(result["objects"]) == sorted(garbage)
    assert len(_packs(project)) == 1  # the garbage's pack held nothing else
    repo = Repository(project)
    try:
        assert not any(oid in repo.store for oid in garbage)
        assert _referenced(project) <= set(repo.store)
    finally:
        repo.close()
    assert run_json(capsys, "-C", project, "fsck")["problems"] == []


def test_a_damaged_pack_is_one_fsck_line_and_repair_keeps_what_is_whole(
        project: Path, capsys: Capsys) -> None:
    _add_many(capsys, project, 4)
    pack = _packs(project)[0]
    data = pack.read_bytes()
    os.chmod(pack, 0o644)
    pack.write_bytes(data[:-30])  # the trailer gone (not a crash: a damaged disk)
    code, out, err = run(capsys, "-C", project, "fsck")
    assert code != 0
    line = next(x for x in (out + err).splitlines() if pack.name in x)
    assert "is damaged (no trailer (cut short))" in line and "fsck --repair" in line
    code, out, err = run(capsys, "-C", project, "fsck", "--repair")
    assert f"moved damaged pack {pack.name}" in out + err
    assert (project / ".repro" / "corrupt").is_dir()
    assert run_json(capsys, "-C", project, "fsck")["problems"] == []
    assert len(run_json(capsys, "-C", project, "log")) == 4


def test_push_and_clone_a_packed_store(project: Path, capsys: Capsys, tmp_path: Path) -> None:
    ids = _add_many(capsys, project, 4)
    nas = tmp_path / "nas"
    nas.mkdir()
    run(capsys, "-C", project, "remote", "add", "origin", nas)
    pushed = run_json(capsys, "-C", project, "push")
    assert sorted(pushed["records"]) == sorted(ids)
    other = tmp_path / "other"
    cloned = run_json(capsys, "clone", nas, other)
    assert sorted(cloned["records"]) == sorted(ids)
    assert _packs(other)  # pulled small objects land in a pack
    assert run_json(capsys, "-C", other, "fsck")["problems"] == []
    assert _referenced(other) - _referenced(project) == set()


def test_an_old_loose_store_takes_packed_batches_beside_its_loose_objects(
        tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    with tarfile.open(V1_STORE) as tar:
        tar.extractall(tmp_path, filter="tar")
    root = tmp_path / "project"
    assert _packs(root) == []
    before = _loose(root)
    records = len(run_json(capsys, "-C", root, "log"))
    make_project_models = (root / "models").is_dir()
    assert make_project_models
    paths = [make_output(root, f"new_{i}.png", seed=500 + i) for i in range(4)]
    run_json(capsys, "-C", root, "add", *paths, "--no-env")
    assert len(_packs(root)) == 1 and set(before) <= set(_loose(root))
    assert len(run_json(capsys, "-C", root, "log")) == records + 4
    assert run_json(capsys, "-C", root, "fsck")["problems"] == []
    now = time.time()
    monkeypatch.setattr(maintenance.time, "time", lambda: now + 30 * 86400)
    run_json(capsys, "-C", root, "gc")
    assert _referenced(root) <= set(_loose(root)) | _packed_ids(root)
    assert run_json(capsys, "-C", root, "fsck")["problems"] == []


def _packed_ids(root: Path) -> set[str]:
    repo = Repository(root)
    try:
        return {oid for oid in repo.store if repo.store.loose_path(oid) is None}
    finally:
        repo.close()
