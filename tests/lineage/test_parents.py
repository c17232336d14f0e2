"""Parents found by content: ComfyUI input folders, is_changed SHA-256, A1111 Extras."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from repro.api.repository import Repository
from repro.demo import a1111_parameters, write_a1111_png
from tests.helpers import run, run_json
from tests.lineage.scenario import build, generate, to_input, upscale_graph


def init(capsys: pytest.CaptureFixture[str], root: Path) -> None:
    assert run(capsys, "-C", root, "init")[0] == 0


def add(capsys: pytest.CaptureFixture[str], root: Path, *paths: str | Path) -> list[str]:
    result = run_json(capsys, "-C", root, "add", *paths, "--no-env")
    return [r["id"] for r in result["records"]]


def test_load_image_found_in_the_comfyui_install_input_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sc = build(tmp_path)
    shutil.rmtree(tmp_path / "input")
    comfy = tmp_path / "ComfyUI"
    to_input(tmp_path, sc.img2img, comfy / "input")
    # Made again once its input is in place: an input that arrived after the output
    # (its ctime is later) would rightly make the record approximate.
    generate(tmp_path, "upscaled.png", upscale_graph("img2img.png"), 3)
    (tmp_path / ".reprorc").write_text('[comfyui]\nroot = "ComfyUI"\n')
    init(capsys, tmp_path)
    [i2i] = add(capsys, tmp_path, sc.img2img)
    [up] = add(capsys, tmp_path, sc.upscaled)
    record = Repository.discover(tmp_path).load_record(up)
    assert record.parent_ids == [i2i]
    assert record.inputs[0].path == "ComfyUI/input/img2img.png"
    assert record.level == "full"


def test_is_changed_sha256_links_without_the_input_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sc = build(tmp_path)
    shutil.rmtree(tmp_path / "input")
    graph = upscale_graph("gone.png")
    # Pre-2024 ComfyUI leaked LoadImage's IS_CHANGED (SHA-256 of the file) into the prompt.
    graph["1"]["is_changed"] = [hashlib.sha256(sc.base.read_bytes()).hexdigest()]
    child = generate(tmp_path, "old_upscale.png", graph, 11)
    init(capsys, tmp_path)
    # The child first: its parent is found when the parent arrives.
    [child_id] = add(capsys, tmp_path, child)
    repo = Repository.discover(tmp_path)
    assert repo.index.parents(child_id) == []
    [base_id] = add(capsys, tmp_path, sc.base)
    assert repo.index.parents(child_id) == [base_id]
    # And the other way round, the record names it.
    other = generate(tmp_path, "old_upscale2.png", graph, 12)
    [other_id] = add(capsys, tmp_path, other)
    assert repo.load_record(other_id).parent_ids == [base_id]


def _extras_png(path: Path, parameters: str, pixel_seed: int) -> Path:
    """An A1111 Extras result: the source's infotext kept verbatim, plus ``postprocessing``."""
    info = PngInfo()
    info.add_text("parameters", parameters)
    info.add_text("postprocessing", "Postprocess upscale by: 2, Postprocess upscaler: R-ESRGAN 4x+")
    info.add_text("extras", "Postprocess upscale by: 2, Postprocess upscaler: R-ESRGAN 4x+")
    im = Image.frombytes("RGB", (128, 192), bytes((pixel_seed + n) % 256 for n in range(128 * 192 * 3)))
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, pnginfo=info)
    return path


@pytest.mark.parametrize("source_first", [True, False])
def test_a1111_extras_result_links_to_its_source(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], source_first: bool) -> None:
    text = a1111_parameters(prompt="a lighthouse", negative="text", seed=42, model="dream",
                            model_hash="0123456789")
    source = write_a1111_png(tmp_path / "outputs" / "00001-42.png", text, pixel_seed=42)
    other = write_a1111_png(tmp_path / "outputs" / "00002-43.png", text.replace(
        "Seed: 42", "Seed: 43"), pixel_seed=43)
    extras = _extras_png(tmp_path / "outputs" / "extras" / "00001-42.png", text, 7)
    init(capsys, tmp_path)
    order = [source, other, extras] if source_first else [extras, other, source]
    ids = dict(zip(order, (add(capsys, tmp_path, p)[0] for p in order), strict=True))
    repo = Repository.discover(tmp_path)
    assert repo.index.parents(ids[extras]) == [ids[source]]
    assert repo.index.children(ids[source]) == [ids[extras]]
    assert repo.index.parents(ids[other]) == []
    assert run(capsys, "-C", tmp_path, "fsck", "--rebuild-index")[0] == 0
    assert Repository.discover(tmp_path).index.parents(ids[extras]) == [ids[source]]
    doc = run_json(capsys, "-C", tmp_path, "graph", ids[extras])
    assert [e["kind"] for e in doc["edges"] if e["kind"] != "model"] == ["extras"]


def test_explicit_parent_still_works(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sc = build(tmp_path)
    init(capsys, tmp_path)
    [base] = add(capsys, tmp_path, sc.base)
    [seed_a] = run_json(capsys, "-C", tmp_path, "add", sc.seed_a, "--parent", base,
                        "--no-env")["records"]
    assert Repository.discover(tmp_path).index.parents(seed_a["id"]) == [base]


def test_an_old_index_is_rebuilt_with_the_new_tables(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import sqlite3

    sc = build(tmp_path)
    init(capsys, tmp_path)
    ids = add(capsys, tmp_path, "outputs")
    db = tmp_path / ".repro" / "index.sqlite"
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("DELETE FROM meta")
        conn.execute("DELETE FROM record_vary")
        conn.execute("DELETE FROM edges")
    conn.close()
    up = Repository.discover(tmp_path).resolve_target(str(sc.upscaled))
    repo = Repository.discover(tmp_path)
    assert len(repo.index.ancestors(up.id)) == 2
    assert repo.index.fingerprint(ids[0]) is not None
    from repro.lineage.index import INDEX_VERSION

    assert json.loads(repo.conn.execute(
        "SELECT value FROM meta WHERE key = 'version'").fetchone()[0]) == INDEX_VERSION


def _pixels_md5(path: Path) -> str:
    with Image.open(path) as im:
        return hashlib.md5(im.tobytes()).hexdigest()


@pytest.mark.parametrize("source_first", [True, False])
def test_a1111_init_image_hash_is_the_md5_of_the_source_pixels(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], source_first: bool) -> None:
    text = a1111_parameters(prompt="a lighthouse", negative="text", seed=42, model="dream",
                            model_hash="0123456789")
    source = write_a1111_png(tmp_path / "outputs" / "txt2img" / "00001-42.png", text,
                             pixel_seed=42)
    unrelated = write_a1111_png(tmp_path / "outputs" / "txt2img" / "00002-43.png",
                                text.replace("Seed: 42", "Seed: 43"), pixel_seed=43)
    child_text = text.replace("Seed: 42", "Seed: 7, Denoising strength: 0.55, "
                              f"Init image hash: {_pixels_md5(source)}")
    child = write_a1111_png(tmp_path / "outputs" / "img2img" / "00003-7.png", child_text,
                            pixel_seed=7)
    init(capsys, tmp_path)
    order = [source, unrelated, child] if source_first else [child, unrelated, source]
    ids = {p: add(capsys, tmp_path, p)[0] for p in order}
    repo = Repository.discover(tmp_path)
    assert repo.index.parents(ids[child]) == [ids[source]]
    assert repo.index.parents(ids[unrelated]) == []
    record = repo.load_record(ids[child])
    if source_first:
        assert record.parent_ids == [ids[source]]
        assert record.inputs[0].blake3 == repo.load_record(ids[source]).output.blake3
    else:
        assert record.parent_ids == []
        assert repo.load_record(ids[source]).output.pixels_md5 == _pixels_md5(source)
    assert run(capsys, "-C", tmp_path, "fsck", "--rebuild-index")[0] == 0
    assert Repository.discover(tmp_path).index.parents(ids[child]) == [ids[source]]


def test_a1111_init_image_source_in_the_same_add_is_found(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The source is still in the store's tmp folder (same batch) when the child is read."""
    text = a1111_parameters(prompt="a lighthouse", negative="text", seed=42, model="dream",
                            model_hash="0123456789")
    source = write_a1111_png(tmp_path / "outputs" / "a.png", text, pixel_seed=42)
    child_text = text.replace("Seed: 42", "Seed: 7, Denoising strength: 0.55, "
                              f"Init image hash: {_pixels_md5(source)}")
    child = write_a1111_png(tmp_path / "outputs" / "b.png", child_text, pixel_seed=7)
    init(capsys, tmp_path)
    records = run_json(capsys, "-C", tmp_path, "add", source, child, "--no-env")["records"]
    ids = {Path(r["path"]).name: r["id"] for r in records}
    repo = Repository.discover(tmp_path)
    assert repo.load_record(ids["b.png"]).parent_ids == [ids["a.png"]]


def test_annotated_output_name_is_found_in_the_comfyui_output_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sc = build(tmp_path)
    shutil.rmtree(tmp_path / "input")
    comfy_output = tmp_path / "ComfyUI" / "output"
    to_input(tmp_path, sc.img2img, comfy_output)
    (tmp_path / ".reprorc").write_text('[comfyui]\nroot = "ComfyUI"\n')
    child = generate(tmp_path, "up_from_output.png", upscale_graph("img2img.png [output]"), 31)
    init(capsys, tmp_path)
    [i2i] = add(capsys, tmp_path, sc.img2img)
    [up] = add(capsys, tmp_path, child)
    record = Repository.discover(tmp_path).load_record(up)
    assert record.parent_ids == [i2i]
    assert record.inputs[0].path == "ComfyUI/output/img2img.png"
