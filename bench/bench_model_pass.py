"""How many passes over a new model a capture makes, and what one ``add`` waits for.

Each case runs ``repro add`` of one image in a fresh store (copy mode, model
in the page cache) as a whole process, against a bare BLAKE3 of the model
and a ComfyUI capture of the same model measured in the same run:

- ``comfyui``: a ComfyUI image naming a new model (one read: copy + BLAKE3);
- ``a1111``: an A1111 image whose ``Model hash`` (SHA-256) must be checked;
  goal: no second read (issue 17 item 3);
- ``chmod``: the stored model after a ``chmod`` (a metadata-only change the
  stat cache cannot vouch for); goal: hashed, not copied again (item 6);
- ``small`` / ``small, dirty``: one image whose models are known, alone and
  right after another program wrote ``--dirty`` bytes it has not synced;
  goal: the add syncs its own files, not everyone's (item 4).

Usage: python bench/bench_model_pass.py [--size 512M] [--dirty 1G] [--runs 3] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from _common import clean_env, parse_size, repro_exe, warm, write_model

from repro.demo import (
    a1111_parameters,
    comfy_graph,
    set_mtime,
    write_a1111_png,
    write_comfy_png,
)


def timed(argv: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True, env=clean_env())
    return time.perf_counter() - started


def project(base: Path, model: Path) -> Path:
    root = Path(tempfile.mkdtemp(prefix="proj-", dir=base))
    dest = root / "models/checkpoints/base.safetensors"
    dest.parent.mkdir(parents=True)
    os.link(model, dest)  # the same bytes, no copy: the page cache stays warm
    subprocess.run([repro_exe(), "init"], cwd=root, check=True, capture_output=True)
    return root


def comfy_image(root: Path, n: int) -> Path:
    graph = comfy_graph(ckpt="base.safetensors", lora=None, lora_strength=1.0, seed=n,
                        prompt=f"image {n}")
    path = write_comfy_png(root / "outputs" / f"c{n}.png", graph, pixel_seed=n, size=(32, 32))
    set_mtime(path, 60)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", default="512M")
    ap.add_argument("--dirty", default="1G")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", default=tempfile.gettempdir())
    args = ap.parse_args()
    size, dirty = parse_size(args.size), parse_size(args.dirty)
    exe = repro_exe()
    base = Path(tempfile.mkdtemp(prefix="repro-pass-", dir=args.dir))
    results: dict[str, list[float]] = {}
    try:
        model = base / "model.safetensors"
        write_model(model, size)
        set_mtime(model, 7200)
        sha = hashlib.sha256(model.read_bytes()).hexdigest()
        warm(model)
        subprocess.run(["sync"], check=True)
        for run in range(args.runs):
            results.setdefault("bare BLAKE3 (a process)", []).append(timed(
                [sys.executable, "-c", "import blake3,sys;"
                 "blake3.blake3(max_threads=blake3.blake3.AUTO).update_mmap(sys.argv[1])",
                 str(model)], base))
            root = project(base, model)
            results.setdefault("comfyui, new model", []).append(
                timed([exe, "add", str(comfy_image(root, 1)), "--no-env"], root))
            os.chmod(root / "models/checkpoints/base.safetensors", 0o640)
            subprocess.run(["sync"], check=True)
            results.setdefault("comfyui, stored model after chmod", []).append(
                timed([exe, "add", str(comfy_image(root, 2)), "--no-env"], root))
            subprocess.run(["sync"], check=True)
            results.setdefault("small: known model", []).append(
                timed([exe, "add", str(comfy_image(root, 3)), "--no-env"], root))
            junk = base / "dirty.bin"
            with open(junk, "wb") as f:
                block = os.urandom(64 << 20)
                for _ in range(max(1, dirty // len(block))):
                    f.write(block)
            results.setdefault("small: known model, others' dirty data", []).append(
                timed([exe, "add", str(comfy_image(root, 4)), "--no-env"], root))
            junk.unlink()
            shutil.rmtree(root)
            subprocess.run(["sync"], check=True)
            root = project(base, model)
            text = a1111_parameters(prompt="x", negative="y", seed=run, model="base",
                                    model_hash=sha[:10])
            img = write_a1111_png(root / "outputs" / "a.png", text, pixel_seed=run)
            set_mtime(img, 60)
            results.setdefault("a1111 Model hash, new model", []).append(
                timed([exe, "add", str(img), "--no-env"], root))
            shutil.rmtree(root)
            subprocess.run(["sync"], check=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    best = {k: min(v) for k, v in results.items()}
    b3, comfy = best["bare BLAKE3 (a process)"], best["comfyui, new model"]
    print(f"model {size >> 20} MiB, best of {args.runs}; dirty data {dirty >> 20} MiB")
    print(f"{'':42} {'s':>7} {'/ BLAKE3':>9} {'/ comfyui':>10}")
    for name, sec in best.items():
        print(f"{name:42} {sec:7.3f} {sec / b3:9.2f} {sec / comfy:10.2f}")


if __name__ == "__main__":
    main()
