"""Lineage commands on a big store, each timed as a whole ``repro`` process.

Runs each query a few times (after one warm-up that fills the page cache
and the stat cache) and prints the median wall time, the median CPU time
(user and system: what the command costs, less the wait for a busy
machine's cores) and the peak RSS of the process (``os.wait4`` rusage), and
each against ``repro --version`` (the floor: starting Python and repro),
with the 1-minute load average when the command's runs began. Goal
(DESIGN.md, issue 17): under 0.3 s and 300 MB each at 1,000,000 records.
The queries are every command that answers about a target, a model, a tag
or the store from the index: log (and its filters), show, diff, verify,
uses, models, variations, descendants, graph, identify, tag and
status (two tags are set on the store first: ``bench-tip`` and
``bench-other``).
Then the commands that read the whole store (``log --json``, ``fsck``,
``gc --dry-run``, and ``store``, which totals every object's size), once
each: wall time, records/s and peak RSS (goal, issue 17: memory flat, under
150 MB at 1,000,000 records), and the disk used per record (index, objects,
refs).

Usage: python bench/bench_lineage.py [STORE_DIR] [RUNS] [--queries-only] [--whole-only]
(STORE_DIR is made by bench/make_store.py; default /tmp/repro-bench-store)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

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


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store", nargs="?", type=Path, default=Path("/tmp/repro-bench-store"),
                        help="a store made by bench/make_store.py")
    parser.add_argument("runs", nargs="?", type=int, default=5,
                        help="timed runs of each query (after a warm-up)")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--queries-only", action="store_true", help="no whole-store commands")
    only.add_argument("--whole-only", action="store_true",
                      help="only the whole-store commands and the disk per record")
    return parser.parse_args(argv[1:])


def query_commands(exe: str, root: Path, info: dict[str, Any]) -> list[list[str]]:
    """The per-target, per-model and per-tag queries (tags ``bench-tip`` and
    ``bench-other`` set here first)."""
    tip, other, lora = info["tip"], info["other"], info["lora"]
    for tag, target in (("bench-tip", tip), ("bench-other", other)):
        subprocess.run([exe, "tag", "-f", tag, target], cwd=root, env=clean_env(),
                       check=True, stdout=subprocess.DEVNULL)
    copy, fresh = probe_files(root)
    return [
        ["--version"],
        ["log", tip],
        ["log", tip, "--graph"],
        ["log", "-n", "20"],
        ["log", "-n", "20", "--grep", "lighthouse"],
        ["log", "-n", "20", "--model", lora],
        ["log", "-n", "20", "--since", "2025-01-05", "--until", "2025-01-06"],
        ["log", "--tag", "bench-*"],
        ["show", tip],
        ["show", "bench-other"],
        ["diff", tip, other],
        ["diff", tip, "--now"],
        ["verify", tip],
        ["uses", lora],
        ["uses", lora, "--any-version"],
        *([["uses", info["hot_lora"]]] if "hot_lora" in info else []),
        ["models"],
        ["tag"],
        ["variations", tip],
        ["descendants", other],
        ["graph", tip],
        ["graph", tip, "--format", "json"],
        ["graph", tip, "--format", "html"],
        ["identify", str(copy)],
        ["identify", str(fresh)],
        ["status"],
    ]


def time_queries(exe: str, root: Path, commands: list[list[str]], runs: int) -> None:
    print(f"{'command':<44} {'wall s':>7} {'/floor':>6} {'cpu s':>6} {'/floor':>6} "
          f"{'peak MB':>8} {'load':>5}  goal (medians of {runs} runs)")
    floor: tuple[float, float] | None = None
    for args in commands:
        timed([exe, *args], root)  # warm-up
        load = os.getloadavg()[0]
        results = [timed([exe, *args], root) for _ in range(runs)]
        wall = statistics.median(r[0] for r in results)
        cpu = statistics.median(r[3] for r in results)
        peak = max(r[1] for r in results)
        codes = {r[2] for r in results}
        floor = floor or (wall, cpu)
        ok = wall < GOAL_SECONDS and peak < GOAL_MB
        label = " ".join(a[:12] if len(a) == 64 else Path(a).name for a in args)
        # identify exits 3 when nothing is close (the new PNG); status 1 when
        # something needs attention (a made-up store's model paths are not its files)
        note = "" if codes <= {0, 1, 3} else f" (exit {sorted(codes)})"
        print(f"repro {label:<38} {wall:7.3f} {wall / floor[0]:6.2f} {cpu:6.3f} "
              f"{cpu / max(floor[1], 1e-3):6.2f} {peak:8.1f} {load:5.1f}  "
              f"{'ok' if ok else 'OVER'}{note}", flush=True)


def whole_store(exe: str, root: Path, records: int) -> None:
    """The commands that read every record or object, once each, and the disk
    used per record."""
    print(f"{'whole store':<44} {'wall s':>7} {'cpu s':>7} {'peak MB':>8} {'records/s':>10} "
          f"{'load':>5}")
    for args in (["log", "--json"], ["fsck", "--json"], ["gc", "--dry-run", "--json"],
                 ["store", "--json"]):
        load = os.getloadavg()[0]
        wall, peak, code, cpu = timed([exe, *args], root)
        note = "" if code in (0, 1) else f" (exit {code})"
        print(f"repro {' '.join(args):<38} {wall:7.1f} {cpu:7.1f} {peak:8.1f} "
              f"{records / wall:10,.0f} {load:5.1f}{note}", flush=True)
    dot = root / ".repro"
    index = sum(p.stat().st_size for p in dot.glob("index.sqlite*"))
    objects = allocated(dot / "objects")
    refs = allocated(dot / "refs")
    print(f"disk per record (allocated): index {index / records:,.0f} B (file and WAL), "
          f"objects {objects / records:,.0f} B (every object: the record, its stand-in "
          f"output, the 1,000 models), refs {refs / records:,.0f} B")


def allocated(folder: Path) -> int:
    """Bytes of disk the files under ``folder`` take (whole blocks)."""
    total = 0
    for dirpath, _, files in os.walk(folder):
        for name in files:
            total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
    return total


def main(argv: list[str]) -> None:
    args = parse(argv)
    root = args.store
    info = orjson.loads((root / "bench.json").read_bytes())
    exe = repro_exe()
    print(f"store {root}: {info['records']} records, {info['models']} model versions, "
          f"deepest chain {info['deepest']} (built in {info['seconds']} s)")
    if not args.whole_only:
        time_queries(exe, root, query_commands(exe, root, info), args.runs)
    if not args.queries_only:
        whole_store(exe, root, info["records"])


if __name__ == "__main__":
    main(sys.argv)
