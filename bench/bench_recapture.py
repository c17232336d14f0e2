"""Capturing 1,000 images whose three models are already known.

A known model must cost one ``stat`` (the stat cache), never a read. This
makes three models, captures one image (so the models are stored and
hashed), then times ``repro add`` of 1,000 new images that use them, as a
whole process, with environment capture on (the default) and with
``--no-env``, each into a fresh copy of the same store, in interleaved
rounds; then the same 1,000 images added again (all known). Prints medians
of wall and CPU time (the child's user + system, which a loaded machine
disturbs less), images per second, and the files each case added to the
store (objects, packs, thumbnail refs; the index's own files not counted).

``--before SRC`` also runs every case with ``PYTHONPATH=SRC`` (another
checkout's ``src``) in the same rounds and prints after/before ratios.

Goals: 1,000 images/s with environment capture on (issue 17 item 10); no
model byte read (the test suite asserts it: tests/models/test_models_scale.py).

Usage: python bench/bench_recapture.py [--images 1000] [--runs 3] [--dir /tmp]
       [--before ../main/src]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from _common import clean_env, source_trees

from repro.demo import (
    comfy_graph,
    model_bytes,
    set_mtime,
    write_comfy_png,
    write_safetensors,
)

CASES = (("add, environment on", ["add", "batch", "--json"]),
         ("add --no-env", ["add", "batch", "--no-env", "--json"]),
         ("add again (all known)", ["add", "batch", "--json"]))


def make_project(root: Path, images: int) -> None:
    """Three models, one image captured (the models stored), ``images`` new ones."""
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
    for n in range(1, images + 1):
        image(n, "batch")


def _files(folder: Path) -> int:
    """Files under ``folder`` (the store), but the index's own."""
    return sum(1 for p in folder.rglob("*") if p.is_file() and not p.name.startswith("index."))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", default=tempfile.gettempdir())
    ap.add_argument("--before", help="another checkout's src folder to time as well")
    args = ap.parse_args()
    env = clean_env()
    trees = source_trees(args.before)
    here = trees[""]
    repro = [sys.executable, "-c", "from repro.cli import run; run()"]
    root = Path(tempfile.mkdtemp(prefix="repro-recapture-", dir=args.dir))

    def run(argv: list[str], src: str) -> tuple[float, float, str]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        proc = subprocess.run([*repro, *argv], cwd=root, env={**env, "PYTHONPATH": src},
                              capture_output=True, text=True)
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise SystemExit(proc.stderr)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return wall, cpu, proc.stdout

    times: dict[tuple[str, str], list[tuple[float, float]]] = {}
    #: files the case left in .repro beyond the template's (objects, packs, refs)
    files: dict[tuple[str, str], int] = {}
    try:
        make_project(root, args.images)
        run(["init"], here)
        run(["add", "first", "--no-env"], here)
        template = root / "template.repro"
        shutil.copytree(root / ".repro", template)
        t = time.perf_counter()
        for p in sorted((root / "batch").iterdir()):
            p.read_bytes()
        floor = time.perf_counter() - t
        for _ in range(args.runs):
            for label, src in trees.items():
                shutil.rmtree(root / ".repro")
                shutil.copytree(template, root / ".repro")
                for name, argv in CASES:
                    if name == CASES[1][0]:  # a fresh store again for the second new batch
                        shutil.rmtree(root / ".repro")
                        shutil.copytree(template, root / ".repro")
                    before = _files(root / ".repro")
                    wall, cpu, out = run(argv, src)
                    files[(label, name)] = _files(root / ".repro") - before
                    records = json.loads(out)["records"]
                    assert len(records) == args.images
                    assert all(r["level"] == "full" for r in records)
                    times.setdefault((label, name), []).append((wall, cpu))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"{args.images} new images, 3 known models (8 MiB, 1 MiB, 2 MiB); median of "
          f"{args.runs}; load average {os.getloadavg()[0]:.1f}")
    print(f"reading the images alone: {floor:.3f} s")
    print(f"{'':36} {'wall s':>7} {'images/s':>9} {'cpu s':>7} {'images/cpu s':>12}"
          f" {'files':>6}")
    for (label, name), rows in times.items():
        wall = statistics.median(w for w, _ in rows)
        cpu = statistics.median(c for _, c in rows)
        line = (f"{label + name:36} {wall:7.3f} {args.images / wall:9.0f} {cpu:7.3f} "
                f"{args.images / cpu:12.0f} {files[(label, name)]:6}")
        if label == "" and ("before: ", name) in times:
            old = times[("before: ", name)]
            line += (f"   after/before wall {wall / statistics.median(w for w, _ in old):.2f}"
                     f" cpu {cpu / statistics.median(c for _, c in old):.2f}")
        print(line)
    print("goal: 1,000 images/s with environment capture on")


if __name__ == "__main__":
    main()
