"""``repro graph --format html`` on real outputs, against ``--format json`` in the same run.

Captures ``--outputs`` 512x512 PNGs (``repro.demo.scene`` pictures with ComfyUI
metadata: three checkpoints, five LoRAs) into a fresh store, then times whole ``repro`` processes, taken in
turn (the load of this shared machine changes by the second):

- ``graph --format json``: the baseline (no thumbnails at all);
- ``graph --format html``: thumbnails read from the objects made at capture;
- ``html, thumbnails lost``: the page after ``.repro/thumbs`` is deleted, as for
  records captured before thumbnails were made at capture: each one is made
  from the stored output (decoded) and kept, once.

Prints wall and CPU medians, their ratio to json, ``repro --version`` for the
fixed cost of a process, and the page's size.

Usage: python bench/bench_graph_html.py [--outputs 2000] [--runs 5] [--images DIR]
(``--images`` keeps the generated PNGs in DIR to reuse them in a later run)
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from _common import clean_env, repro_exe

from repro.api.add import verb
from repro.api.repository import Repository
from repro.demo import comfy_graph, scene, write_comfy_png

SRC = Path(__file__).resolve().parent.parent / "src"


def make_images(folder: Path, n: int) -> list[Path]:
    """``n`` real-looking outputs (made once; reused when ``folder`` has them)."""
    paths = []
    for seed in range(n):
        path = folder / f"out{seed:05d}.png"
        paths.append(path)
        if path.exists():
            continue
        graph = comfy_graph(ckpt=f"base{seed % 3}.safetensors", lora=f"style{seed % 5}",
                            lora_strength=0.5 + seed % 4 / 8, seed=seed,
                            prompt=f"a lighthouse, study {seed}")
        write_comfy_png(path, graph, pixel_seed=seed, image=scene(seed))
    return paths


def timed(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one process: on a loaded machine the
    wall time is mostly waiting for a core, the CPU time much less so."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=clean_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    err = proc.stderr.read() if proc.stderr else b""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {err.decode()[-400:]}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--outputs", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--images", type=Path, help="keep the generated PNGs here")
    args = ap.parse_args()
    compileall.compile_dir(SRC, quiet=1)  # a fresh .pyc each run would cost 0.06 s a command
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        images = args.images or work / "images"
        images.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        paths = make_images(images, args.outputs)
        print(f"{len(paths)} outputs ready in {time.perf_counter() - started:.1f} s")
        store = work / "store"
        repo = Repository.init(store)
        started = time.perf_counter()
        result = verb.add(repo, paths, allow_empty=True)
        took = time.perf_counter() - started
        print(f"captured {len(result.records)} in {took:.1f} s "
              f"({took / len(paths) * 1000:.1f} ms an output)")
        repo.close()
        exe = repro_exe()
        base = [exe, "-C", str(store), "graph"]
        thumbs = store / ".repro" / "thumbs"
        times: dict[str, list[tuple[float, float]]] = {
            "json": [], "html": [], "html, thumbnails lost": []}
        timed([*base, "--format", "html", "-o", str(work / "warm.html")])
        for _ in range(args.runs):
            times["json"].append(timed([*base, "--format", "json", "-o", str(work / "g.json")]))
            times["html"].append(timed([*base, "--format", "html", "-o", str(work / "g.html")]))
            shutil.rmtree(thumbs, ignore_errors=True)
            times["html, thumbnails lost"].append(
                timed([*base, "--format", "html", "-o", str(work / "lost.html")]))
        json_wall = statistics.median(w for w, _ in times["json"])
        json_cpu = statistics.median(c for _, c in times["json"])
        print(f"\n| {len(paths):,} outputs | wall median (min) s | x json | "
              "CPU median s | x json |")
        print("|---|---|---|---|---|")
        for label, values in times.items():
            wall = statistics.median(w for w, _ in values)
            cpu = statistics.median(c for _, c in values)
            print(f"| {label} | {wall:.2f} ({min(w for w, _ in values):.2f}) | "
                  f"{wall / json_wall:.1f} | {cpu:.2f} | {cpu / json_cpu:.1f} |")
        version = [timed([exe, "--version"]) for _ in range(args.runs)]
        print(f"\n`repro --version`: wall median {statistics.median(w for w, _ in version):.2f} s, "
              f"CPU {statistics.median(c for _, c in version):.2f} s; load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"\npage {(work / 'g.html').stat().st_size / 1e6:.1f} MB; "
              f"json {(work / 'g.json').stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
