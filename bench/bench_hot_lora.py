"""A hot LoRA: capture and ``uses`` when a LoRA is in many earlier records.

A studio's favourite LoRA is in every image. This captures one image with a
LoRA, then grows the store to N records that use the same LoRA (written
through the API: records copied from the first with another output), and at
each N times, as whole processes, ``repro add`` of one new image with that
LoRA and ``repro uses LORA --json``. Ratios are against N = 0 in the same run.

Goal (issue 17, item 1): adding costs the same (within 1.2x) whether the LoRA
was used 0 or 100,000 times; ``uses`` is linear in what it prints.

Usage: python bench/bench_hot_lora.py [--counts 0,10000,100000] [--runs 3] [--dir /tmp]
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

from repro.api.repository import Repository
from repro.demo import comfy_graph, model_bytes, set_mtime, write_comfy_png, write_safetensors
from repro.objects.hashing import hash_bytes
from repro.record import canonical_bytes
from repro.record.values import replace

CHUNK = 20_000


def grow(root: Path, template_id: str, start: int, stop: int) -> None:
    """Records start..stop-1, each a copy of the template with its own output."""
    repo = Repository.discover(root)
    template = repo.load_record(template_id)
    for first in range(start, stop, CHUNK):
        records = []
        with repo.store.batch():
            for n in range(first, min(stop, first + CHUNK)):
                output = replace(template.output, blake3=hash_bytes(f"hot {n}".encode()))
                captured = replace(template.captured, at=f"2025-01-01T00:00:00.{n % 1000:03d}Z")
                record = replace(template, output=output, captured=captured)
                rid = repo.store.put_bytes(canonical_bytes(record), group=1)
                records.append(replace(record, id=rid))
        repo.index.load(records)
    repo.close()


def timed(argv: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True, env=clean_env())
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--counts", default="0,10000,100000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", default=tempfile.gettempdir())
    args = ap.parse_args()
    counts = sorted(int(c) for c in args.counts.split(","))
    repro = repro_exe()
    root = Path(tempfile.mkdtemp(prefix="repro-hotlora-", dir=args.dir))
    shot = 0

    def image() -> Path:
        nonlocal shot
        shot += 1
        graph = comfy_graph(ckpt="base.safetensors", lora="style.safetensors",
                            lora_strength=0.8, seed=shot, prompt=f"image {shot}")
        path = write_comfy_png(root / "outputs" / f"img{shot:05}.png", graph, pixel_seed=shot,
                               size=(32, 32))
        set_mtime(path, 60)
        return path

    try:
        for p in (write_safetensors(root / "models/checkpoints/base.safetensors",
                                    model_bytes(1, 1 << 20)),
                  write_safetensors(root / "models/loras/style.safetensors",
                                    model_bytes(2, 1 << 18),
                                    metadata={"ss_sd_model_name": "base.safetensors"})):
            set_mtime(p, 7200)
        subprocess.run([repro, "init"], cwd=root, check=True, capture_output=True)
        first = subprocess.run([repro, "add", str(image()), "--no-env", "--json"], cwd=root,
                               check=True, capture_output=True, text=True, env=clean_env())
        import json

        template = json.loads(first.stdout)["records"][0]["id"]
        have = 1
        base: tuple[float, float] | None = None
        print(f"{'records using the LoRA':>24} {'add s':>7} {'/ N=0':>6} {'uses s':>7} "
              f"{'/ N=0':>6} {'uses ms per record':>19}")
        for count in counts:
            if count + 1 > have:
                grow(root, template, have, count + 1)
                have = count + 1
            adds, uses = [], []
            for _ in range(args.runs):
                adds.append(timed([repro, "add", str(image()), "--no-env"], root))
                have += 1
                uses.append(timed([repro, "uses", "style.safetensors", "--json"], root))
            add, use = min(adds), min(uses)
            base = base or (add, use)
            print(f"{have:>24,} {add:7.3f} {add / base[0]:6.2f} {use:7.3f} "
                  f"{use / base[1]:6.2f} {1000 * use / have:19.3f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
