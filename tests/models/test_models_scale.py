"""Models at scale: store modes, ecosystem hashes finding renamed files, the stat
cache sparing known models, header-only changes."""

from __future__ import annotations

import builtins
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from repro.api.repository import Repository
from repro.demo import (
    a1111_parameters,
    model_bytes,
    set_mtime,
    write_a1111_png,
    write_safetensors,
)
from repro.objects.hashing import hash_file
from tests.helpers import make_output, run, run_json


@pytest.mark.parametrize("mode", ["copy", "reflink", "hardlink"])
def test_store_modes_round_trip(project: Path, mode: str,
                                capsys: pytest.CaptureFixture[str]) -> None:
    img = make_output(project, "a.png", seed=1)
    run_json(capsys, "-C", project, "add", img, "--mode", mode)
    ckpt = project / "models/checkpoints/base.safetensors"
    recorded = hash_file(ckpt)
    # Replace the file the way tools do: a new file renamed over the old name.
    tmp = ckpt.with_suffix(".new")
    write_safetensors(tmp, model_bytes(50, 300_000))
    os.replace(tmp, ckpt)
    code, out, _ = run(capsys, "-C", project, "verify", img, "--json")
    v = orjson.loads(out)
    assert code == 1 and v["models"][0]["status"] == "changed" and v["models"][0]["in_store"]
    run_json(capsys, "-C", project, "checkout", img, "--force")
    assert hash_file(ckpt) == recorded
    assert run_json(capsys, "-C", project, "verify", img)["ready"] is True
    assert run_json(capsys, "-C", project, "fsck")["problems"] == []


def test_reference_mode_stores_nothing_and_says_so(project: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    img = make_output(project, "a.png", seed=1)
    run_json(capsys, "-C", project, "add", img, "--mode", "reference")
    ckpt = project / "models/checkpoints/base.safetensors"
    repo = Repository.discover(project)
    assert hash_file(ckpt) not in repo.store
    write_safetensors(ckpt, model_bytes(50, 300_000))
    code, out, _ = run(capsys, "-C", project, "verify", img, "--json")
    v = orjson.loads(out)
    assert code == 1
    assert v["level"] == "approximate"
    assert any("not in the store" in r for r in v["reasons"])
    result = run_json(capsys, "-C", project, "checkout", img, "--force", "--dry-run")
    assert result["unavailable"][0]["reason"] == "the recorded version is not in the store"


def test_hardlinked_model_edited_in_place_is_detected(project: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    img = make_output(project, "a.png", seed=1)
    run_json(capsys, "-C", project, "add", img, "--mode", "hardlink")
    lora = project / "models/loras/style.safetensors"
    assert not os.access(lora, os.W_OK) or os.geteuid() == 0
    os.chmod(lora, 0o644)
    with open(lora, "r+b") as f:  # a tool writing into the model file
        f.seek(-4, io.SEEK_END)
        f.write(b"EDIT")
    code, out, _ = run(capsys, "-C", project, "verify", img, "--json")
    v = orjson.loads(out)
    status = {m["role"]: m for m in v["models"]}["lora"]
    assert code == 1
    assert status["status"] == "changed" and status["edited_in_place"] is True
    assert status["in_store"] is False
    assert v["level"] == "approximate"
    code, out, _ = run(capsys, "-C", project, "fsck", "--json")
    problems = orjson.loads(out)["problems"]
    assert code == 1
    assert [p["kind"] for p in problems] == ["corrupt"]


def test_known_models_are_never_read_again(project: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    vae = write_safetensors(project / "models/vae/vae.safetensors", model_bytes(9, 100_000))
    set_mtime(vae, 7200)
    first = [make_output(project, f"a{n}.png", seed=n) for n in range(3)]
    run_json(capsys, "-C", project, "add", *first)
    models_dir = str(project / "models")
    opened: list[str] = []
    real_open, real_os_open = builtins.open, os.open

    def spy_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, (str, os.PathLike)) and str(file).startswith(models_dir):
            opened.append(str(file))
        return real_open(file, *args, **kwargs)

    def spy_os_open(path: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(path, (str, os.PathLike)) and str(path).startswith(models_dir):
            opened.append(str(path))
        return real_os_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(io, "open", spy_open)
    monkeypatch.setattr(os, "open", spy_os_open)
    more = [make_output(project, f"b{n}.png", seed=100 + n) for n in range(50)]
    opened.clear()
    result = run_json(capsys, "-C", project, "add", *more)
    assert len(result["records"]) == 50
    assert all(r["level"] == "full" for r in result["records"])
    run_json(capsys, "-C", project, "verify", more[0])
    assert opened == [], f"model files were read: {sorted(set(opened))[:5]}"


def test_a_stored_model_is_not_copied_again_after_a_metadata_only_change(
        project: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from repro.objects import copying

    run_json(capsys, "-C", project, "add", make_output(project, "a.png", seed=1))
    ckpt = project / "models/checkpoints/base.safetensors"
    os.chmod(ckpt, 0o600)  # a new ctime: the stat cache no longer vouches for the file
    os.link(ckpt, project / "elsewhere.safetensors")
    copied: list[str] = []
    real = copying.clone_or_copy

    def spy(src: Any, *args: Any, **kwargs: Any) -> Any:
        copied.append(str(src.name))
        return real(src, *args, **kwargs)

    monkeypatch.setattr(copying, "clone_or_copy", spy)
    result = run_json(capsys, "-C", project, "add", make_output(project, "b.png", seed=2))
    assert result["records"][0]["level"] == "full"
    assert str(ckpt) not in copied
    # A changed model of the same size is hashed first, then copied: it is new.
    data = bytearray(ckpt.read_bytes())
    data[-1] ^= 1
    os.chmod(ckpt, 0o644)
    ckpt.unlink()
    ckpt.write_bytes(bytes(data))
    set_mtime(ckpt, 7200)
    copied.clear()
    run_json(capsys, "-C", project, "add", make_output(project, "c.png", seed=3))
    assert str(ckpt) in copied
    assert hash_file(ckpt) in Repository.discover(project).store


def test_a_recorded_model_hash_costs_no_second_read(
        project: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An A1111 image records ``Model hash``: the new checkpoint is hashed with
    SHA-256 in the same read that copies it into the store."""
    from repro.models import hashes
    from repro.objects import copying

    ckpt = project / "models/checkpoints/base.safetensors"
    sha256 = hashlib.sha256(ckpt.read_bytes()).hexdigest()
    hashed: list[str] = []
    copied: list[str] = []
    real_hash, real_copy = hashes.compute_hashes, copying.clone_or_copy

    def spy_hash(path: Any, *args: Any, **kwargs: Any) -> Any:
        hashed.append(str(path))
        return real_hash(path, *args, **kwargs)

    def spy_copy(src: Any, *args: Any, **kwargs: Any) -> Any:
        copied.append(str(src.name))
        return real_copy(src, *args, **kwargs)

    monkeypatch.setattr(hashes, "compute_hashes", spy_hash)
    monkeypatch.setattr(copying, "clone_or_copy", spy_copy)
    text = a1111_parameters(prompt="x", negative="y", seed=1, model="base",
                            model_hash=sha256[:10])
    img = write_a1111_png(project / "outputs" / "a.png", text, pixel_seed=1)
    set_mtime(img, 60)
    rec = run_json(capsys, "-C", project, "add", img)["records"][0]
    [model] = run_json(capsys, "-C", project, "show", rec["id"])["models"]
    assert model["blake3"] == hash_file(ckpt) and model["hashes"]["sha256"] == sha256
    assert model.get("found_by") is None  # found by its name, the recorded hash checked
    assert str(ckpt) not in hashed and copied.count(str(ckpt)) == 1
    repo = Repository.discover(project)
    assert repo.stat_cache.lookup(ckpt)["sha256"] == sha256
    assert model["blake3"] in repo.store


def test_recorded_hashes_find_renamed_files(project: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """AutoV2 (10 hex), AutoV1 (8 hex), a 12-hex A1111 LoRA tensor hash and a
    SwarmUI 0x tensor hash each find a file whose name no longer matches."""
    from repro.models.hashes import compute_hashes

    big = write_safetensors(project / "models/checkpoints/renamed_ckpt.safetensors",
                            model_bytes(5, 3 * 1024 * 1024))
    lora = project / "models/loras/style.safetensors"
    lora_renamed = lora.with_name("whatever_v2.safetensors")
    lora.rename(lora_renamed)
    h_big = compute_hashes(big, {"sha256", "autov1", "tensor_sha256", "blake3"})
    h_lora = compute_hashes(lora_renamed, {"tensor_sha256", "blake3"})

    cases = {
        "autov2": (h_big["sha256"][:10], None),
        "autov1": (h_big["autov1"], None),
        "lora12": (h_big["sha256"][:10], h_lora["tensor_sha256"][:12]),
    }
    for name, (model_hash, lora_hash) in cases.items():
        text = a1111_parameters(prompt="x", negative="y", seed=1, model="old_name",
                                model_hash=model_hash, lora="style_old" if lora_hash else None,
                                lora_hash=lora_hash)
        img = write_a1111_png(project / "outputs" / f"{name}.png", text, pixel_seed=hash(name) % 1000)
        set_mtime(img, 60)
        rec = run_json(capsys, "-C", project, "add", img)["records"][0]
        models = {m["role"]: m for m in run_json(capsys, "-C", project, "show", rec["id"])["models"]}
        assert models["checkpoint"]["blake3"] == h_big["blake3"], name
        assert models["checkpoint"]["found_by"] == "hash"
        if lora_hash:
            assert models["lora"]["blake3"] == h_lora["blake3"]

    swarm = {"sui_image_params": {"prompt": "cat", "model": "old/name", "seed": 3, "steps": 20,
                                  "cfgscale": 7, "swarm_version": "0.9.6"},
             "sui_models": [{"name": "old/name.safetensors", "param": "model",
                             "hash": "0x" + h_big["tensor_sha256"].upper()}]}
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("parameters", json.dumps(swarm, indent=2))
    img = project / "outputs" / "swarm.png"
    Image.new("RGB", (8, 8), "blue").save(img, pnginfo=info)
    set_mtime(img, 60)
    rec = run_json(capsys, "-C", project, "add", img)["records"][0]
    [model] = run_json(capsys, "-C", project, "show", rec["id"])["models"]
    assert model["blake3"] == h_big["blake3"]


def _rewrite_header(path: Path, metadata: dict[str, str]) -> None:
    """Rewrite a safetensors header in place, tensors untouched (as SwarmUI does)."""
    from repro.models.headers import read_safetensors_header

    header = read_safetensors_header(path)
    data = path.read_bytes()[header.data_offset:]
    raw = json.loads(path.read_bytes()[8:header.data_offset])
    raw["__metadata__"] = metadata
    encoded = json.dumps(raw, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    path.write_bytes(len(encoded).to_bytes(8, "little") + encoded + data)


def test_header_only_change_is_metadata_only(project: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    img = make_output(project, "a.png", seed=1)
    run_json(capsys, "-C", project, "add", img)
    ckpt = project / "models/checkpoints/base.safetensors"
    before = hash_file(ckpt)
    _rewrite_header(ckpt, {"modelspec.title": "renamed by a UI", "__spacer": "    "})
    assert hash_file(ckpt) != before
    v = run_json(capsys, "-C", project, "verify", img)
    status = {m["role"]: m for m in v["models"]}["checkpoint"]
    assert status["status"] == "metadata-only"
    assert v["ready"] is True and v["level"] == "full"
    assert any("header" in r for r in v["reasons"])


def test_models_hashes_and_scan(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    img = make_output(project, "a.png", seed=1)
    run_json(capsys, "-C", project, "add", img)
    entries = run_json(capsys, "-C", project, "models", "--hashes")
    ckpt = project / "models/checkpoints/base.safetensors"
    data = ckpt.read_bytes()
    entry = next(e for e in entries if "checkpoint" in e["roles"])
    assert entry["hashes"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert entry["hashes"]["autov2"] == hashlib.sha256(data).hexdigest()[:10]
    n = int.from_bytes(data[:8], "little")
    assert entry["hashes"]["tensor_sha256"] == hashlib.sha256(data[8 + n:]).hexdigest()
    assert entry["format"] == "safetensors"
    # A new file under the roots is found by scan, and a second scan reads nothing.
    extra = write_safetensors(project / "models/loras/new.safetensors", model_bytes(77, 10_000))
    set_mtime(extra, 3600)
    first = run_json(capsys, "-C", project, "models", "scan")
    assert first["files"] == 3 and first["hashed"] >= 1
    second = run_json(capsys, "-C", project, "models", "scan")
    assert second["hashed"] == 0 and second["known"] == 3


def test_lora_links_to_its_base_model(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = project / "models/checkpoints/base.safetensors"
    base_sha = hashlib.sha256(ckpt.read_bytes()).hexdigest()
    lora = project / "models/loras/style.safetensors"
    write_safetensors(lora, model_bytes(2, 50_000),
                      metadata={"ss_sd_model_name": "base.safetensors",
                                "ss_new_sd_model_hash": base_sha})
    set_mtime(lora, 7200)
    run_json(capsys, "-C", project, "models", "scan")
    img = make_output(project, "a.png", seed=1)
    rec = run_json(capsys, "-C", project, "add", img)["records"][0]
    models = {m["role"]: m for m in run_json(capsys, "-C", project, "show", rec["id"])["models"]}
    assert models["lora"]["base_model"]["name"] == "base.safetensors"
    assert models["lora"]["base_model"]["blake3"] == hash_file(ckpt)
    # The link is an edge of the lineage graph, in every format.
    graph = run_json(capsys, "-C", project, "graph", img, "--format", "json")
    base_edges = [e for e in graph["edges"] if e["kind"] == "base"]
    assert base_edges == [{"source": f"model:{hash_file(ckpt)}",
                           "target": f"model:{models['lora']['blake3']}", "kind": "base"}]
    for fmt in ("dot", "graphml", "html"):
        code, out, _ = run(capsys, "-C", project, "graph", img, "--format", fmt)
        assert code == 0 and out


def test_copy_mode_capture_reads_a_new_model_once(project: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash while copying: a new model costs one read pass."""
    import repro.objects.copying as copying

    reads: dict[str, int] = {}
    real = copying.iter_chunks

    def counting(f: Any, *args: Any, **kwargs: Any) -> Any:
        name = getattr(f, "name", "")
        for chunk in real(f, *args, **kwargs):
            if isinstance(name, str) and name.endswith("base.safetensors"):
                reads[name] = reads.get(name, 0) + len(chunk)
            yield chunk

    monkeypatch.setattr(copying, "iter_chunks", counting)
    img = make_output(project, "a.png", seed=1)
    run_json(capsys, "-C", project, "add", img)
    ckpt = project / "models/checkpoints/base.safetensors"
    assert sum(reads.values()) == ckpt.stat().st_size
