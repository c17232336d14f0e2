"""``repro status`` on a big store, against verifying every record (what it did before).

Until issue 18, ``status`` verified every record (each model of each record looked
up on disk, every record parsed); now it looks at each recorded model path once
through the stat cache and verifies only the records at risk. The baseline is
``repro verify`` of every record, the same work the old ``status`` did, timed in
the same run. Two states: clean, and with one checkpoint overwritten by other bytes
(its records then are at risk and verified in full). Each command runs as a whole
process, ``RUNS`` times, alternating; medians are printed, with their ratio.

Usage: python bench/bench_status.py [STORE_DIR] [RUNS]
(STORE_DIR is made by bench/make_store.py; default /tmp/repro-bench-store)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import orjson
from _common import clean_env

#: Runs the CLI of the ``repro`` that ``python`` imports (PYTHONPATH decides which).
CLI = [sys.executable, "-c", "import sys; from repro.cli import main; sys.exit(main())"]


def timed(args: list[str], cwd: Path) -> tuple[float, bytes]:
    started = time.perf_counter()
    proc = subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, env=clean_env())
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{args}: exit {proc.returncode}: {proc.stderr.decode()[-400:]}")
    return time.perf_counter() - started, proc.stdout


def compare(root: Path, runs: int, label: str) -> dict[str, float]:
    status, verify = [], []
    timed(["status", "--json"], root)  # warm: page cache and stat cache
    for _ in range(runs):
        seconds, out = timed(["status", "--json"], root)
        status.append(seconds)
        seconds, _ = timed(["verify", "--json"], root)
        verify.append(seconds)
    not_ready = len(orjson.loads(out)["not_ready"])
    row = {"status": statistics.median(status), "verify_all": statistics.median(verify)}
    print(f"{label}: status {row['status']:.2f} s, verify of every record "
          f"{row['verify_all']:.2f} s, ratio {row['status'] / row['verify_all']:.3f} "
          f"({not_ready} record(s) not ready)")
    return row


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store", nargs="?", type=Path, default=Path("/tmp/repro-bench-store"),
                        help="a store made by bench/make_store.py")
    parser.add_argument("runs", nargs="?", type=int, default=3, help="runs of each command")
    args = parser.parse_args(argv[1:])
    root, runs = args.store, args.runs
    info = orjson.loads((root / "bench.json").read_bytes())
    print(f"store: {root}, {info['records']} records, {info['models']} model versions")
    compare(root, runs, "clean")
    checkpoint = root / "models/checkpoints/checkpoint_0000.safetensors"
    kept = checkpoint.read_bytes()
    try:
        checkpoint.write_bytes(kept[:-1] + bytes([kept[-1] ^ 0xFF]))
        compare(root, runs, "one checkpoint changed")
    finally:
        checkpoint.write_bytes(kept)


if __name__ == "__main__":
    main(sys.argv)
