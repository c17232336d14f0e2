"""Lineage commands on a big store, each timed as a whole ``repro`` process.

Runs each query a few times (after one warm-up that fills the page cache
and the stat cache) and prints the best wall time, the best CPU time (user
and system: what the command costs, less the wait for a busy machine's
cores) and the peak RSS of the process (``os.wait4`` rusage), and each
against ``repro --version`` (the floor: starting Python and repro). Goal
(DESIGN.md): under 0.3 s and 300 MB each.
Then the commands that read the whole store (``log --json``, ``fsck``,
``gc --dry-run``), once each: wall time, records/s and peak RSS (goal, issue
17: memory flat, under 150 MB at 1,000,000 records), and the disk used per
record (index and record objects).

Usage: python bench/bench_lineage.py [STORE_DIR] [RUNS] [--queries-only]
(STORE_DIR is made by bench/make_store.py; default /tmp/repro-bench-store)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
from _common import clean_env, repro_exe

GOAL_SECONDS = 0.3
GOAL_MB = 300


def timed(argv: list[str], cwd: Path) -> tuple[float, float, int, float]:
    """(wall seconds, peak RSS in MB, exit code, CPU seconds) of one process."""
    env = clean_env()
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if proc.stderr is not None:
        proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, proc.returncode, usage.ru_utime + usage.ru_stime


def probe_files(root: Path) -> tuple[Path, Path]:
    """For ``identify``: a copy of a stored output's bytes (found by its BLAKE3),
    and a PNG no record has (every fingerprint part probed, none close)."""
    from PIL import Image

    copy = root / "probe-output.bin"
    copy.write_bytes(f"output {7}".encode())
    fresh = root / "probe-new.png"
    Image.effect_noise((256, 256), 64).convert("RGB").save(fresh)
    return copy, fresh


def main(argv: list[str]) -> None:
    positional = [a for a in argv[1:] if not a.startswith("--")]
    root = Path(positional[0]) if positional else Path("/tmp/repro-bench-store")
    runs = int(positional[1]) if len(positional) > 1 else 3
    info = orjson.loads((root / "bench.json").read_bytes())
    exe = repro_exe()
    tip, other, lora = info["tip"], info["other"], info["lora"]
    copy, fresh = probe_files(root)
    commands = [
        ["--version"],
        ["log", tip],
        ["log", tip, "--graph"],
        ["log", "-n", "20"],
        ["show", tip],
        ["diff", tip, other],
        ["diff", tip, "--now"],
        ["verify", tip],
        ["uses", lora],
        ["uses", lora, "--any-version"],
        *([["uses", info["hot_lora"]]] if "hot_lora" in info else []),
        ["models"],
        ["variations", tip],
        ["descendants", other],
        ["graph", tip],
        ["graph", tip, "--format", "json"],
        ["graph", tip, "--format", "html"],
        ["identify", str(copy)],
        ["identify", str(fresh)],
    ]
    print(f"store {root}: {info['records']} records, {info['models']} model versions, "
          f"deepest chain {info['deepest']} (built in {info['seconds']} s)")
    print(f"{'command':<44} {'wall s':>7} {'/floor':>6} {'cpu s':>6} {'/floor':>6} "
          f"{'peak MB':>8}  goal")
    floor: tuple[float, float] | None = None
    for args in commands:
        timed([exe, *args], root)  # warm-up
        results = [timed([exe, *args], root) for _ in range(runs)]
        wall = min(r[0] for r in results)
        cpu = min(r[3] for r in results)
        peak = max(r[1] for r in results)
        codes = {r[2] for r in results}
        floor = floor or (wall, cpu)
        ok = wall < GOAL_SECONDS and peak < GOAL_MB
        label = " ".join(a[:12] if len(a) == 64 else Path(a).name for a in args)
        # identify exits 3 when nothing is close (the new PNG)
        note = "" if codes <= {0, 1, 3} else f" (exit {sorted(codes)})"
        print(f"repro {label:<38} {wall:7.3f} {wall / floor[0]:6.2f} {cpu:6.3f} "
              f"{cpu / max(floor[1], 1e-3):6.2f} {peak:8.1f}  {'ok' if ok else 'OVER'}{note}",
              flush=True)
    if "--queries-only" in argv:
        return
    n = info["records"]
    print(f"{'whole store':<44} {'wall s':>7} {'peak MB':>8} {'records/s':>10}")
    for args in (["log", "--json"], ["fsck", "--json"], ["gc", "--dry-run", "--json"]):
        wall, peak, code, _ = timed([exe, *args], root)
        note = "" if code in (0, 1) else f" (exit {code})"
        print(f"repro {' '.join(args):<38} {wall:7.1f} {peak:8.1f} {n / wall:10.0f}{note}",
              flush=True)
    dot = root / ".repro"
    index = sum(p.stat().st_size for p in dot.glob("index.sqlite*"))
    records = sum(p.stat().st_blocks * 512 for p in (dot / "objects").rglob("*")
                  if p.is_file() and p.stat().st_size < 64 * 1024)
    print(f"disk per record: index {index / n:,.0f} B, record objects {records / n:,.0f} B "
          "(allocated; small objects only)")


if __name__ == "__main__":
    main(sys.argv)
