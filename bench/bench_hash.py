"""How fast are model hashes, against `cp` and a bare BLAKE3, measured in one run.

    .venv/bin/python bench/bench_hash.py                # 2 GiB file in /tmp
    .venv/bin/python bench/bench_hash.py --size 512M --dir /var/tmp

Writes a safetensors-shaped file (so the tensor hash applies), reads it once
to warm the page cache, then times: `cp` of the file, repro's multi-threaded
BLAKE3 (`objects.hashing.hash_file`), `compute_hashes` for blake3 + sha256 +
tensor_sha256 in one pass, `sha256sum` and `md5sum`. Each is reported in
seconds and as a ratio to `cp` and to bare BLAKE3. Ratios, not absolute
times, are what DESIGN.md "Speed and scale" bounds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import parse_size, warm, write_model

from repro.models.hashes import compute_hashes
from repro.objects.hashing import hash_file


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", default="2G", help="file size, e.g. 512M, 2G (default 2G)")
    ap.add_argument("--dir", default=tempfile.gettempdir(), help="where to write (default /tmp)")
    args = ap.parse_args()
    size = parse_size(args.size)
    work = Path(tempfile.mkdtemp(prefix="repro-bench-", dir=args.dir))
    try:
        src = work / "model.safetensors"
        dst = work / "copy.safetensors"
        write_model(src, size)
        warm(src)

        def cp() -> None:
            subprocess.run(["cp", str(src), str(dst)], check=True)

        results: dict[str, float] = {}
        results["cp"] = timed(cp)
        dst.unlink()
        results["blake3 (repro hash_file)"] = timed(lambda: hash_file(src))
        results["compute_hashes blake3+sha256+tensor"] = timed(
            lambda: compute_hashes(src, ["blake3", "sha256", "tensor_sha256"]))
        results["sha256sum"] = timed(lambda: subprocess.run(
            ["sha256sum", str(src)], check=True, capture_output=True))
        results["md5sum"] = timed(lambda: subprocess.run(
            ["md5sum", str(src)], check=True, capture_output=True))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    base_cp = results["cp"]
    base_b3 = results["blake3 (repro hash_file)"]
    print(f"file: {size / (1 << 20):.0f} MiB, page cache warm, {os.cpu_count()} CPUs")
    print(f"{'':38} {'seconds':>8} {'GB/s':>6} {'/cp':>6} {'/blake3':>8}")
    for name, sec in results.items():
        print(f"{name:38} {sec:8.3f} {size / sec / 1e9:6.2f} {sec / base_cp:6.2f} "
              f"{sec / base_b3:8.2f}")


if __name__ == "__main__":
    main()
