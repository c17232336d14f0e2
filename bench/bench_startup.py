"""Fixed cost of a ``repro`` process: ``--help``, ``--version`` and a one-image ``add``.

Each command runs as a whole process, interleaved with ``python -c pass``
(the interpreter's own start-up) so that every round sees the same load;
prints the median of each and its ratio to the bare interpreter. The
one-image ``add`` captures a tiny ComfyUI PNG whose model is already known
(so the time is the fixed cost, not hashing) into a store made beforehand;
"add (new store)" is the first ``add`` into a store ``init`` has just made.

Goal (issue 17 item 11): ``--help`` under 60 ms, a one-image ``add`` under
0.1 s of fixed cost (the last column: CPU time above the interpreter's own
start). Every tree timed is compiled to bytecode first.

``--before SRC`` also runs every command with ``PYTHONPATH=SRC`` (another
checkout's ``src``), interleaved with this one's, for before/after ratios
from one run. Besides wall time it prints CPU time (the child's user +
system), which a loaded machine disturbs less.

Usage: python bench/bench_startup.py [--runs 20] [--dir /tmp] [--before ../main/src]
"""

from __future__ import annotations

import argparse
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

from repro.demo import comfy_graph, model_bytes, set_mtime, write_comfy_png, write_safetensors


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--dir", default=tempfile.gettempdir())
    ap.add_argument("--before", help="another checkout's src folder to time as well")
    args = ap.parse_args()
    env = clean_env()
    trees = source_trees(args.before)
    here = trees[""]
    root = Path(tempfile.mkdtemp(prefix="repro-startup-", dir=args.dir))
    load_before = os.getloadavg()[0]
    repro = [sys.executable, "-c", "from repro.cli import run; run()"]
    try:
        def image(n: int, folder: Path = root) -> Path:
            graph = comfy_graph(ckpt="base.safetensors", lora=None, lora_strength=0.0, seed=n,
                                prompt=f"image {n}")
            return write_comfy_png(folder / "out" / f"img{n:05}.png", graph, pixel_seed=n)

        def run(cmd: list[str], src: str = here, cwd: Path = root) -> tuple[float, float]:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            subprocess.run(cmd, cwd=cwd, env={**env, "PYTHONPATH": src}, check=True,
                           stdout=subprocess.DEVNULL)
            wall = time.perf_counter() - t
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

        # A project for each tree: trees of two index versions sharing a store would
        # rebuild its index at every turn.
        projects: dict[str, Path] = {}
        for at, (label, src) in enumerate(trees.items()):
            project = projects[label] = root / f"project-{at}"
            set_mtime(write_safetensors(project / "models/checkpoints/base.safetensors",
                                        model_bytes(1, 1 << 20)), 7200)
            run([*repro, "init"], src, project)
            run([*repro, "add", str(image(0, project))], src, project)
        images = {label: iter([image(n, projects[label]) for n in range(1, args.runs + 1)])
                  for label in trees}
        fresh_images = iter([image(n) for n in range(1, len(trees) * args.runs + 1)])
        cases: dict[str, list[tuple[float, float]]] = {"python -c pass": []}
        for at in range(args.runs):
            cases["python -c pass"].append(run([sys.executable, "-c", "pass"]))
            for label, src in trees.items():
                project = projects[label]
                for name, argv in (("--version", ["--version"]), ("--help", ["--help"]),
                                   ("add (one image)", ["add", str(next(images[label]))])):
                    cases.setdefault(f"{label}repro {name}", []).append(
                        run([*repro, *argv], src, project))
                # The first add in a store just made by `init` (the model is hashed too).
                fresh = root / f"fresh-{at}-{len(label)}"
                fresh.mkdir()
                run([*repro, "init"], src, fresh)
                cases.setdefault(f"{label}repro add (new store)", []).append(
                    run([*repro, "add", str(next(fresh_images))], src, fresh))
        wall0 = statistics.median(w for w, _ in cases["python -c pass"])
        cpu0 = statistics.median(c for _, c in cases["python -c pass"])
        print(f"median of {args.runs}; load average {load_before:.1f} before, "
              f"{os.getloadavg()[0]:.1f} after")
        print(f"{'':32} {'wall ms':>8} {'/ python':>9} {'cpu ms':>8} {'/ python':>9} "
              f"{'cpu - python':>12}")
        for name, times in cases.items():
            w = statistics.median(t for t, _ in times)
            c = statistics.median(t for _, t in times)
            print(f"{name:32} {w * 1000:8.1f} {w / wall0:9.2f} {c * 1000:8.1f} {c / cpu0:9.2f} "
                  f"{(c - cpu0) * 1000:12.1f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
