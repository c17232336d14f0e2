"""How long after ComfyUI finishes a job is its record written by ``repro watch``?

Starts the real ComfyUI 0.3.64 of the end-to-end tests (tests/e2e/server.py:
the vendored source and the cached venv, built on first use), follows it with
``repro watch --comfyui URL --json`` in a project configured for it, sends one
warm-up job and then a burst of seeded jobs (LoadImage -> ImageAddNoise ->
toy upscaler -> SaveImage, all queued at once), and measures for each job the
time from ComfyUI's completion (the ``execution_success`` timestamp in
``/history``, epoch ms) to its record object's mtime in ``.repro/objects``,
and to the ``captured`` event on watch's stdout. Prints p50, p95 and max.

Usage: python bench/bench_watch_latency.py [--jobs 30] [--interval 1.0]
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from _common import clean_env, repro_exe  # noqa: E402
from tests.e2e.graphs import body, seeded_upscale  # noqa: E402
from tests.e2e.helpers import Watch  # noqa: E402
from tests.e2e.server import Server, python_for, source_tree  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def completed_ms(entry: dict[str, Any]) -> int:
    """When ComfyUI finished the job: its ``execution_success`` timestamp (epoch ms)."""
    return next(int(data["timestamp"]) for name, data in entry["status"]["messages"]
                if name == "execution_success")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=30)
    ap.add_argument("--interval", type=float, default=1.0, help="watch --interval")
    args = ap.parse_args()

    started = time.monotonic()
    tree = source_tree()
    python = python_for(tree)
    with tempfile.TemporaryDirectory(prefix="bench-watch-") as scratch:
        server = Server.prepare(tree, python, Path(scratch) / "ComfyUI")
        server.start()
        print(f"ComfyUI ready in {time.monotonic() - started:.1f} s "
              f"(server start {server.started_in:.1f} s)")
        try:
            project = Path(scratch) / "proj"
            project.mkdir()
            (project / ".reprorc").write_text(f'[comfyui]\nroot = "{server.root}"\n')
            subprocess.run([repro_exe(), "init"], cwd=project, check=True, env=clean_env(),
                           capture_output=True)

            def job(seed: int, prefix: str) -> str:
                return server.submit(body(seeded_upscale(
                    image="repro_input.png", model="tiny_compact_x2.safetensors", seed=seed,
                    prefix=prefix)))

            with Watch(project, server, interval=args.interval) as watch:
                warm = server.output_files(server.wait(job(0, "warmup/w")))
                watch.wait_captured(warm, timeout=120)
                burst_start = time.time()
                ids = [job(seed, f"burst/s{seed:03d}") for seed in range(1, args.jobs + 1)]
                entries = {pid: server.wait(pid) for pid in ids}
                outputs = {pid: server.output_files(e)[0] for pid, e in entries.items()}
                watch.wait_captured(list(outputs.values()), timeout=300)
                arrived = {e["path"]: t for t, e in watch.events if e["event"] == "captured"}
                ids_of = {e["path"]: e["id"] for _t, e in watch.events
                          if e["event"] == "captured"}
        finally:
            server.stop()

        record_ms, event_ms = [], []
        for pid, out in outputs.items():
            done = completed_ms(entries[pid])
            rid = ids_of[str(out)]
            obj = project / ".repro" / "objects" / rid[:2] / rid[2:]
            record_ms.append(obj.stat().st_mtime * 1000 - done)
            event_ms.append(arrived[str(out)] * 1000 - done)
        burst = max(completed_ms(e) for e in entries.values()) / 1000 - burst_start

    print(f"{args.jobs} jobs queued at once, ComfyUI finished them in {burst:.1f} s; "
          f"watch --interval {args.interval}")
    print("completion -> | p50 ms | p95 ms | max ms")
    for label, values in (("record written", record_ms), ("captured event", event_ms)):
        print(f"{label:14} | {percentile(values, 50):6.0f} | {percentile(values, 95):6.0f} | "
              f"{max(values):6.0f}")


if __name__ == "__main__":
    main()
