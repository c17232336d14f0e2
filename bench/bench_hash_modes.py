"""Reference and hardlink modes against a bare BLAKE3 process, 512 MiB to 4 GiB.

For each size: writes a model, reads it once (page cache warm), then, round
after round, times a bare BLAKE3 process (``blake3(max_threads=AUTO)
.update_mmap``, the floor) and ``repro add --mode reference`` and ``--mode
hardlink`` (``--no-env``) of one image that uses the model, each into a
fresh project (no stat cache). Prints medians and ratios to the bare process
of the same run. ``--before SRC`` also times another checkout's ``src``.

The bare process is the fair floor for a command: a fresh Python (this
interpreter, the same environment) that imports ``blake3`` and hashes the file
with its threads, start-up included, as ``b3sum`` would in Python.

Two more rows say where the rest goes: ``repro --version``, a process that
starts repro and does nothing (the fixed cost every command pays before it
reads a byte), and ``hash_file`` in this process against ``update_mmap`` in
this process (the hashing alone, no start-up on either side).

Goal (issue 17 item 2): each mode at most 1.3x the bare process.

Usage: python bench/bench_hash_modes.py [--sizes 512M,4G] [--runs 5] [--before ../main/src]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import blake3
from _common import clean_env, parse_size, source_trees, warm, write_model

from repro.demo import comfy_graph, set_mtime, write_comfy_png
from repro.objects.hashing import hash_file

BARE = ("import blake3, sys; "
        "print(blake3.blake3(max_threads=blake3.blake3.AUTO).update_mmap(sys.argv[1]).hexdigest())")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="512M,4G")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir", default=tempfile.gettempdir())
    ap.add_argument("--before", help="another checkout's src folder to time as well")
    args = ap.parse_args()
    trees = source_trees(args.before)
    here = trees[""]
    env = clean_env()
    repro = [sys.executable, "-c", "from repro.cli import run; run()"]
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, median of {args.runs}")
    for size_text in args.sizes.split(","):
        size = parse_size(size_text)
        work = Path(tempfile.mkdtemp(prefix="repro-hashmodes-", dir=args.dir))
        try:
            model = work / "big.safetensors"
            write_model(model, size)
            set_mtime(model, 3600)
            warm(model)

            def run(cmd: list[str], cwd: Path, src: str = here) -> float:
                t = time.perf_counter()
                subprocess.run(cmd, cwd=cwd, env={**env, "PYTHONPATH": src}, check=True,
                               stdout=subprocess.DEVNULL)
                return time.perf_counter() - t

            def project(src: str, work: Path = work, model: Path = model) -> Path:
                root = work / f"p-{time.monotonic_ns()}"
                (root / "models" / "checkpoints").mkdir(parents=True)
                os.link(model, root / "models" / "checkpoints" / "big.safetensors")
                graph = comfy_graph(ckpt="big.safetensors", lora=None, lora_strength=0,
                                    seed=1, prompt="bench")
                set_mtime(write_comfy_png(root / "out.png", graph, pixel_seed=1), 60)
                run([*repro, "init"], root, src)
                return root

            times: dict[str, list[float]] = {"bare blake3 process": []}
            for at in range(args.runs):
                times["bare blake3 process"].append(
                    run([sys.executable, "-c", BARE, str(model)], work))
                times.setdefault("repro --version", []).append(
                    run([*repro, "--version"], work))
                t = time.perf_counter()
                blake3.blake3(max_threads=blake3.blake3.AUTO).update_mmap(str(model))
                times.setdefault("in-process update_mmap", []).append(time.perf_counter() - t)
                t = time.perf_counter()
                hash_file(model)
                times.setdefault("in-process hash_file", []).append(time.perf_counter() - t)
                # The trees take turns at going first: the first add of a round meets
                # the page cache and the CPUs as the in-process rows left them.
                order = list(trees.items())
                for label, src in order if at % 2 == 0 else order[::-1]:
                    for mode in ("reference", "hardlink"):
                        root = project(src)
                        times.setdefault(f"{label}repro add --mode {mode}", []).append(
                            run([*repro, "add", "out.png", "--mode", mode, "--no-env"], root, src))
                        shutil.rmtree(root)
            base = statistics.median(times["bare blake3 process"])
            mapped = statistics.median(times["in-process update_mmap"])
            print(f"\n{size / (1 << 20):.0f} MiB{'':24} {'median s':>9} {'/ bare':>7}")
            for name, values in times.items():
                m = statistics.median(values)
                ratio = m / mapped if name.startswith("in-process") else m / base
                print(f"{name:33} {m:9.3f} {ratio:7.2f}")
            print("(in-process rows: ratios to in-process update_mmap)")
            print(f"load average now {os.getloadavg()[0]:.1f}")
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
