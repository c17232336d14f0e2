"""How to keep a batch's small objects: one file each, one append-only pack, or
one SQLite file (issue 17 item 10). Writes ``--count`` objects of each size the
three ways into a scratch folder on the store's disk, each made durable, and
prints the wall time per object and the ratio to one file each.

    python bench/bench_pack_formats.py --count 1000 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path


def one_file_each(folder: Path, blobs: list[bytes]) -> None:
    names = []
    for n, data in enumerate(blobs):
        name = folder / f"o{n}"
        with open(name, "wb") as f:
            f.write(data)
        names.append(name)
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.sync()  # one syncfs-like flush, as a batch does
    finally:
        os.close(fd)


def one_pack(folder: Path, blobs: list[bytes]) -> None:
    with open(folder / "p.pack", "wb") as f:
        for data in blobs:
            f.write(len(data).to_bytes(8, "big"))
            f.write(data)
        f.flush()
        os.fsync(f.fileno())


def one_sqlite(folder: Path, blobs: list[bytes]) -> None:
    conn = sqlite3.connect(folder / "p.sqlite", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS o (id BLOB PRIMARY KEY, data BLOB)")
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO o VALUES (?, ?)",
                     ((os.urandom(32), data) for data in blobs))
    conn.execute("COMMIT")
    conn.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", default=None, help="scratch folder (default: the system's temp)")
    args = ap.parse_args()
    print(f"load {os.getloadavg()[0]:.1f}; {args.count} objects; median of {args.rounds}")
    print(f"{'size':>8} {'files ms/obj':>13} {'pack ms/obj':>12} {'sqlite ms/obj':>14}"
          f" {'pack/files':>11} {'sqlite/files':>13}")
    for size in (2_000, 20_000, 200_000, 1_000_000):
        blobs = [os.urandom(size) for _ in range(args.count)]
        times: dict[str, list[float]] = {"files": [], "pack": [], "sqlite": []}
        for _ in range(args.rounds):
            for name, way in (("files", one_file_each), ("pack", one_pack),
                              ("sqlite", one_sqlite)):
                with tempfile.TemporaryDirectory(dir=args.dir) as scratch:
                    start = time.perf_counter()
                    way(Path(scratch), blobs)
                    times[name].append(time.perf_counter() - start)
        med = {k: statistics.median(v) * 1000 / args.count for k, v in times.items()}
        print(f"{size:>8} {med['files']:>13.3f} {med['pack']:>12.3f} {med['sqlite']:>14.3f}"
              f" {med['pack'] / med['files']:>11.2f} {med['sqlite'] / med['files']:>13.2f}")


if __name__ == "__main__":
    main()
