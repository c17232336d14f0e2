"""What a lookup costs in a store with packs (issue 17 item 10).

``id in store`` for an id the store lacks (what ``add`` asks before it stores
each new object) searches the loose file, then every pack's table. This makes
stores of ``--packs`` packs of ``--objects`` objects each, opens each afresh,
and times ``--lookups`` misses and hits, and a miss of a thumbnail link
(``made_of``). The baseline, in the same run, is a store with no pack: the
one ``stat`` of the loose file.

Usage: python bench/bench_pack_lookup.py [--objects 5000] [--lookups 2000]
       [--packs 1 8 32] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from repro.objects import batching
from repro.objects.store import ObjectStore


def per_call_us(calls: list[str], ask: object) -> float:
    assert callable(ask)
    start = time.perf_counter()
    for oid in calls:
        ask(oid)
    return (time.perf_counter() - start) / len(calls) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--objects", type=int, default=5000)
    ap.add_argument("--lookups", type=int, default=2000)
    ap.add_argument("--packs", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--dir", default=tempfile.gettempdir())
    args = ap.parse_args()
    batching.MOST_PACKS = max(args.packs) + 1  # keep the packs apart for the measurement
    rng = random.Random(1)
    misses = [rng.randbytes(32).hex() for _ in range(args.lookups)]
    root = Path(tempfile.mkdtemp(prefix="repro-packlookup-", dir=args.dir))
    try:
        empty = ObjectStore(root / "none" / "objects", root / "none" / "tmp")
        base = per_call_us(misses, empty.__contains__)
        print(f"load average {os.getloadavg()[0]:.1f}; packs of {args.objects} objects; "
              f"{args.lookups} lookups")
        print(f"no pack (the loose stat alone): miss {base:.1f} us")
        for n in args.packs:
            folder = root / f"p{n}"
            store = ObjectStore(folder / "objects", folder / "tmp")
            hits: list[str] = []
            for _ in range(n):
                hits += store.put_many(rng.randbytes(60) for _ in range(args.objects))
            time.sleep(1.1)  # past the folder-mtime window: no re-listing
            store = ObjectStore(folder / "objects", folder / "tmp")
            start = time.perf_counter()
            _ = misses[0] in store
            opened = (time.perf_counter() - start) * 1e3
            miss = per_call_us(misses, store.__contains__)
            hit = per_call_us(rng.sample(hits, min(len(hits), args.lookups)), store.__contains__)
            link = per_call_us(misses, store.made_of)
            print(f"{n:3} pack(s): first lookup {opened:.1f} ms (opens them); miss {miss:.1f} us "
                  f"({miss / base:.1f}x), hit {hit:.1f} us, link miss {link:.1f} us")
            shutil.rmtree(folder)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
