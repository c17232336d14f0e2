"""Capturing 1,000 images whose three models are already known.

A known model must cost one ``stat`` (the stat cache), never a read. This
makes three models, captures one image (so the models are stored and
hashed), then times ``repro add`` of 1,000 new images that use them, as a
whole process, and prints images per second next to the time of merely
reading the same images (the floor) in the same run.

Goal (issue 4): 300 images/s or better, no model byte read (the test suite
asserts the latter: tests/models/test_models_scale.py).

Usage: python bench/bench_recapture.py [--images 1000] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from _common import clean_env, repro_exe

from repro.demo import (
    comfy_graph,
    model_bytes,
    set_mtime,
    write_comfy_png,
    write_safetensors,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--dir", default=tempfile.gettempdir())
    args = ap.parse_args()
    repro = repro_exe()
    env = clean_env()
    root = Path(tempfile.mkdtemp(prefix="repro-recapture-", dir=args.dir))
    try:
        models = [write_safetensors(root / "models/checkpoints/base.safetensors",
                                    model_bytes(1, 8 << 20)),
                  write_safetensors(root / "models/loras/style.safetensors",
                                    model_bytes(2, 1 << 20)),
                  write_safetensors(root / "models/vae/vae.safetensors", model_bytes(3, 2 << 20))]
        for m in models:
            set_mtime(m, 7200)

        def image(n: int, folder: str) -> Path:
            graph = comfy_graph(ckpt="base.safetensors", lora="style.safetensors",
                                lora_strength=0.8, seed=n, prompt=f"image {n}")
            graph["20"] = {"class_type": "VAELoader", "inputs": {"vae_name": "vae.safetensors"}}
            graph["8"]["inputs"]["vae"] = ["20", 0]
            path = write_comfy_png(root / folder / f"img{n:05}.png", graph, pixel_seed=n,
                                   size=(32, 32))
            set_mtime(path, 60)
            return path

        image(0, "first")
        batch = [image(n, "batch") for n in range(1, args.images + 1)]
        subprocess.run([repro, "init"], cwd=root, check=True, capture_output=True, env=env)
        subprocess.run([repro, "add", "first", "--no-env"], cwd=root, check=True,
                       capture_output=True, env=env)

        t = time.perf_counter()
        for p in batch:
            p.read_bytes()
        floor = time.perf_counter() - t

        t = time.perf_counter()
        proc = subprocess.run([repro, "add", "batch", "--no-env", "--json"], cwd=root,
                              capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            raise SystemExit(proc.stderr)
        import json

        records = json.loads(proc.stdout)["records"]
        assert len(records) == args.images and all(r["level"] == "full" for r in records)

        t = time.perf_counter()
        subprocess.run([repro, "add", "batch", "--no-env"], cwd=root, check=True,
                       capture_output=True, env=env)
        again = time.perf_counter() - t
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"{args.images} new images, 3 known models (8 MiB, 1 MiB, 2 MiB)")
    print(f"  reading the images alone      {floor:7.3f} s")
    print(f"  repro add (new records)       {wall:7.3f} s  {args.images / wall:7.0f} images/s"
          "  (goal >= 300)")
    print(f"  repro add again (all known)   {again:7.3f} s  {args.images / again:7.0f} images/s")


if __name__ == "__main__":
    main()
