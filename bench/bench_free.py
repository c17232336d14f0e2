"""What ``POST /free`` costs on the real ComfyUI 0.3.64 (docs/benchmarks.md).

Runs the seeded toy job (LoadImage -> ImageAddNoise -> toy upscaler -> SaveImage)
on a server the end-to-end harness starts (tests/e2e/server.py: vendored source,
cached venv): 10 jobs with the loaders cached, then 10 rounds of ``POST /free``
followed by the same job, then 10 ``POST /free`` on an idle server. Prints
medians in ms. Run from the project root: ``python bench/bench_free.py``.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e import server as srv
from tests.e2e.graphs import body, seeded_upscale


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    tree = srv.source_tree()
    py = srv.python_for(tree)
    with tempfile.TemporaryDirectory() as d:
        s = srv.Server.prepare(tree, py, Path(d) / "ComfyUI")
        s.start()
        g = seeded_upscale(image="repro_input.png", model="tiny_compact_x2.safetensors",
                           seed=7, prefix="b/x")

        def job() -> float:
            t = time.perf_counter()
            s.run(body(g))
            return time.perf_counter() - t

        try:
            job()
            warm = [job() for _ in range(10)]
            frees, cold = [], []
            for _ in range(10):
                t = time.perf_counter()
                s.free()
                frees.append(time.perf_counter() - t)
                cold.append(job())
            idle = []
            for _ in range(10):
                t = time.perf_counter()
                s.free()
                idle.append(time.perf_counter() - t)
        finally:
            s.stop()
    med = statistics.median
    print(json.dumps({"free_ms_median": round(med(frees) * 1000, 1),
                      "free_ms_max": round(max(frees) * 1000, 1),
                      "free_idle_ms": round(med(idle) * 1000, 1),
                      "job_cached_ms": round(med(warm) * 1000, 1),
                      "job_after_free_ms": round(med(cold) * 1000, 1)}))


if __name__ == "__main__":
    main()
