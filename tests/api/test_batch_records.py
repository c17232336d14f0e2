"""A batch stores exactly what adding its images one at a time stores: the same
record bytes (so the same ids) and the same index rows. What a batch learns
once for all its images (a model resolved and stored, issue 17 item 10) must
never show in what it records; a model file replaced in the middle of a batch
is found anew."""

from __future__ import annotations

import gc
import hashlib
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import repro.api.add.build
from repro.api.add import add
from repro.api.repository import Repository
from repro.demo import (
    a1111_parameters,
    comfy_graph,
    model_bytes,
    set_mtime,
    write_a1111_png,
    write_comfy_png,
    write_safetensors,
)
from repro.objects.hashing import hash_file
from tests.helpers import img2img_graph, make_project

#: Index tables that depend on the store's own history, not on the records.
NOT_COMPARED = ("meta", "stat_cache")


class _FixedClock:
    """``build.time``: every record says it was captured at the same moment."""

    @staticmethod
    def time() -> float:
        return 1_800_000_000.25


def _images(root: Path, models: dict[str, Path]) -> Path:
    """ComfyUI images naming known, missing and renamed models, some older than the
    models; A1111 images with a matching and a contradicted ``Model hash``; an
    img2img whose input is an output of the same batch; a file with no metadata."""
    folder = root / "outputs"
    sha = hashlib.sha256(models["ckpt"].read_bytes()).hexdigest()
    for n in range(12):
        graph = comfy_graph(ckpt="base.safetensors" if n % 5 else "base",
                            lora=("style.safetensors", "gone.safetensors", None)[n % 3],
                            lora_strength=0.5 + n / 10, seed=n, prompt=f"a fox {n}")
        path = write_comfy_png(folder / f"c{n:02}.png", graph, pixel_seed=n, size=(24, 24))
        set_mtime(path, 9000 if n % 4 == 0 else 60)  # some before the models' time
    for n in range(4):
        text = a1111_parameters(prompt=f"a cat {n}", negative="", seed=n, model="base",
                                model_hash=sha[:10] if n % 2 else "0123456789")
        set_mtime(write_a1111_png(folder / f"a{n}.png", text, pixel_seed=50 + n,
                                  size=(16, 16)), 60)
    write_comfy_png(folder / "d_img2img.png", img2img_graph(
        load_image="c01.png", denoise=0.5, ckpt="base.safetensors", lora=None,
        lora_strength=1.0, seed=99, prompt="again"), pixel_seed=99, size=(24, 24))
    Image.new("RGB", (8, 8), "red").save(folder / "e_plain.png")  # no metadata
    return folder


def _stored(root: Path) -> tuple[dict[str, bytes], dict[str, list[Any]]]:
    """Every record's bytes by id, and every index table's rows."""
    repo = Repository(root)
    try:
        records = {r.id: repo.store.read_bytes(r.id) for r in repo.iter_record_objects()}
    finally:
        repo.close()
    with sqlite3.connect(root / ".repro" / "index.sqlite") as conn:
        names = [n for (n,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            if n not in NOT_COMPARED]
        tables = {n: sorted(conn.execute(f"SELECT * FROM {n}").fetchall(), key=repr)
                  for n in names}
    return records, tables


def _fresh(root: Path) -> Repository:
    shutil.rmtree(root / ".repro", ignore_errors=True)
    Repository.init(root)
    return Repository(root)


def test_a_batch_records_what_one_image_at_a_time_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(repro.api.add.build, "time", _FixedClock)
    models = make_project(tmp_path)
    write_safetensors(tmp_path / "models/vae/unused.safetensors", model_bytes(4, 1000))
    folder = _images(tmp_path, models)
    files = sorted(folder.iterdir())

    repo = _fresh(tmp_path)
    one_by_one = []
    for path in files:
        one_by_one += add(repo, [path], allow_empty=True).records
    repo.close()
    singly = _stored(tmp_path)

    repo = _fresh(tmp_path)
    collecting = gc.get_threshold()
    batch = add(repo, [folder], allow_empty=True).records
    assert gc.get_threshold() == collecting  # a batch collects less, then as before
    repo.close()
    together = _stored(tmp_path)

    assert [c.id for c in batch] == [c.id for c in one_by_one]
    assert {c.record.level for c in batch} >= {"full", "approximate"}
    assert together[0] == singly[0]
    assert together[1] == singly[1]


def test_a_model_replaced_during_a_batch_is_found_anew(tmp_path: Path) -> None:
    models = make_project(tmp_path)
    old = hash_file(models["lora"])
    for n in range(6):
        graph = comfy_graph(ckpt="base.safetensors", lora="style.safetensors",
                            lora_strength=0.8, seed=n, prompt=f"a fox {n}")
        set_mtime(write_comfy_png(tmp_path / "outputs" / f"c{n}.png", graph, pixel_seed=n,
                                  size=(16, 16)), 60)
    replaced = tmp_path / "style.new"
    write_safetensors(replaced, model_bytes(7, 50_000))
    new = hash_file(replaced)

    def progress(what: str, done: int, total: int) -> None:
        if what == "capturing" and done == 4:  # before the fourth image
            os.replace(replaced, models["lora"])

    repo = _fresh(tmp_path)
    result = add(repo, [tmp_path / "outputs"], progress=progress)
    repo.close()
    loras = [next(m for m in c.record.models if m.role == "lora") for c in result.records]
    assert [m.blake3 for m in loras] == [old] * 3 + [new] * 3
    assert [c.record.level for c in result.records] == ["full"] * 3 + ["approximate"] * 3


def test_outputs_are_spelled_as_their_resolved_paths(tmp_path: Path) -> None:
    """Outputs under the project, in its root, through a linked folder or as a link
    to a file elsewhere, and outside the project: each record names the file the
    resolved path names."""
    root, elsewhere = tmp_path / "p", tmp_path.resolve() / "elsewhere"
    make_project(root)
    graph = comfy_graph(ckpt="base.safetensors", lora=None, lora_strength=1.0, seed=1,
                        prompt="a fox")
    made = {name: write_comfy_png(folder / f"{name}.png", graph, pixel_seed=n, size=(8, 8))
            for n, (folder, name) in enumerate([(root / "out", "a"), (root, "b"),
                                                (elsewhere, "c"), (elsewhere / "sub", "d"),
                                                (elsewhere, "f")])}
    (root / "linked").symlink_to(elsewhere / "sub")
    (root / "out" / "e.png").symlink_to(made["f"])
    repo = _fresh(root)
    result = add(repo, [made["a"], made["b"], made["c"], root / "linked" / "d.png",
                        root / "out" / "e.png"])
    repo.close()
    assert [c.record.output.path for c in result.records] == [
        "out/a.png", "b.png", str(made["c"]), str(made["d"]), str(made["f"])]


def test_a_recorded_hash_records_what_the_stat_cache_knows_then_in_a_batch_too(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A model found through a hash the image recorded is recorded with every hash of
    it known by then: an image in between that records another kind of hash of the
    same file (AutoV1 after A1111's AutoV2) adds that one to what the next image
    records, in a batch as one image at a time."""
    monkeypatch.setattr(repro.api.add.build, "time", _FixedClock)
    ckpt = write_safetensors(tmp_path / "models/checkpoints/base.safetensors",
                             model_bytes(1, 3_000_000))  # AutoV1 needs more than 2 MiB
    set_mtime(ckpt, 7200)
    data = ckpt.read_bytes()
    autov2 = hashlib.sha256(data).hexdigest()[:10]
    autov1 = hashlib.sha256(data[0x100000:0x110000]).hexdigest()[:8]
    folder = tmp_path / "outputs"
    for n, recorded in enumerate([autov2, autov1, autov2]):
        text = a1111_parameters(prompt=f"a cat {n}", negative="", seed=n, model="base",
                                model_hash=recorded)
        set_mtime(write_a1111_png(folder / f"a{n}.png", text, pixel_seed=n, size=(16, 16)), 60)

    repo = _fresh(tmp_path)
    one_by_one = [c for path in sorted(folder.iterdir()) for c in add(repo, [path]).records]
    repo.close()
    repo = _fresh(tmp_path)
    batch = add(repo, [folder]).records
    repo.close()

    assert "autov1" in one_by_one[2].record.models[0].hashes
    assert [c.record.models for c in batch] == [c.record.models for c in one_by_one]
    assert [c.id for c in batch] == [c.id for c in one_by_one]
