"""What indexing costs on disk: bytes of SQLite a record, and bytes written
and read for each capture, in a small and a big index.

For each base size (default 1,000 and 100,000 records, made like
``make_store.py``'s, indexed in one transaction), adds 1,000 more records the
way ``repro add`` does (``Index.add_many`` a batch of ``--batch`` records,
256 unless told, then the batch's fingerprints by ``add_prints``), and then 200 more one at a time (a
one-image ``add`` each), and reports per record: bytes SQLite wrote and
read (``/proc/self/io`` ``wchar`` and ``rchar``: the WAL and the database,
whether or not the page cache served them or held them back), and
the index file's size (with its WAL) per record. Run it with the code to
compare on ``PYTHONPATH`` (``/work/main/src`` then this tree): the ratios
between the small and the big index are what the goal is about (issue 17
item 9: write volume per capture independent of the store's size).

Usage: python bench/bench_index_writes.py [DIR] [--sizes 1000,100000] [--batch 256]
       python bench/bench_index_writes.py [DIR] --into STORE [--into STORE...] [--batch 256]
       (adds to a copy, in DIR, of each make_store.py store's index)
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from make_store import MAX_DEPTH, N_CHECKPOINTS, N_LORAS, make_record

from repro.lineage.index import Index, connect
from repro.objects.hashing import hash_bytes
from repro.record import Record, canonical_bytes

BATCH = 256
ADDED = 1_000
SINGLE = 200
#: Records of the base index a transaction (as make_store.py's chunks).
BASE_CHUNK = 20_000


def io_counters() -> dict[str, int]:
    counters = {}
    for line in Path("/proc/self/io").read_text().splitlines():
        key, value = line.split(":")
        counters[key] = int(value)
    return counters


def fake_models() -> list[dict[str, Any]]:
    models = []
    for n in range(N_CHECKPOINTS + N_LORAS):
        role = "checkpoint" if n < N_CHECKPOINTS else "lora"
        blake3 = hash_bytes(f"model {n}".encode())
        models.append({"role": role, "name": f"{role}_{n:04d}.safetensors",
                       "path": f"models/{role}s/{role}_{n:04d}.safetensors",
                       "blake3": blake3, "size": 2048, "hashes": {"blake3": blake3}})
    return models


class Maker:
    """Records as ``make_store`` makes them, in chains, numbered from 0."""

    def __init__(self) -> None:
        self.rng = random.Random(1)
        self.models = fake_models()
        self.chain: list[dict[str, Any]] = []
        self.length = 0
        self.n = 0
        self.start = datetime(2025, 1, 1, tzinfo=UTC)

    def next(self) -> Record:
        if len(self.chain) >= self.length:
            self.chain, self.length = [], self.rng.choice((1, 1, 2, 3, 5, 10, 20, MAX_DEPTH))
        parent = self.chain[-1] if self.chain else None
        data = make_record(self.n, self.rng, self.models, parent,
                           self.start + timedelta(seconds=self.n))
        raw = canonical_bytes(Record.from_dict(data))
        record = Record.from_dict(orjson.loads(raw), id=hash_bytes(raw))
        self.chain.append({"output": data["output"], "_id": record.id})
        self.n += 1
        return record


def prints_of(records: list[Record]) -> list[tuple[str, str | None, int | None]]:
    rng = random.Random(len(records))
    return [(r.output.blake3, hash_bytes(r.output.blake3.encode()),
             rng.getrandbits(64) - (1 << 63)) for r in records]


def disk(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def measure(folder: Path, size: int, batch_size: int) -> dict[str, float]:
    path = folder / f"index-{size}.sqlite"
    maker = Maker()
    index = Index(connect(path))
    for first in range(0, size, BASE_CHUNK):  # a chunk a transaction: memory stays flat
        base = [maker.next() for _ in range(min(BASE_CHUNK, size - first))]
        index.load(base)
        index.add_prints(prints_of(base))
    return measure_adds(index, path, maker, batch_size)


def measure_adds(index: Index, path: Path, maker: Maker, batch_size: int) -> dict[str, float]:
    """Bytes written and read per record added to ``index``, in batches and one by one."""
    index.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = index.count()
    out = {"size": size, "bytes_per_record": disk(path) / size}
    for label, batch, count in (("batch", batch_size, ADDED), ("single", 1, SINGLE)):
        records = [maker.next() for _ in range(count)]
        before, started = io_counters(), time.perf_counter()
        for first in range(0, count, batch):
            chunk = records[first:first + batch]
            index.add_many(chunk)
            index.add_prints(prints_of(chunk))
        after, wall = io_counters(), time.perf_counter() - started
        out[f"{label}_written"] = (after["wchar"] - before["wchar"]) / count
        out[f"{label}_read"] = (after["rchar"] - before["rchar"]) / count
        out[f"{label}_ms"] = wall * 1000 / count
    index.conn.close()
    return out


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=Path("/tmp/repro-bench-index"),
                        help="scratch folder for the indexes made (removed at the end)")
    parser.add_argument("--sizes", default="1000,100000",
                        help="base index sizes, comma-separated (records)")
    parser.add_argument("--batch", type=int, default=BATCH, help="records an add_many")
    parser.add_argument("--into", type=Path, action="append", default=[], metavar="STORE",
                        help="measure on a copy of this store's index instead (a "
                             "make_store.py store; repeatable; the store is not changed)")
    return parser.parse_args(argv[1:])


def copy_index(store: Path, folder: Path) -> Path:
    """A copy of ``store``'s index, its WAL checkpointed first: the same pages in
    the same order, so the measure is of that index's layout."""
    source = store / ".repro" / "index.sqlite"
    conn = connect(source)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    copy = folder / f"copy-{store.name}.sqlite"
    shutil.copyfile(source, copy)
    return copy


def main(argv: list[str]) -> None:
    args = parse(argv)
    batch = args.batch
    print(f"{'records':>9} {'B/record':>9} | {f'batch of {batch}: written':>22} {'read':>9} "
          f"{'ms':>6} | {'one by one: written':>20} {'read':>9} {'ms':>6}  (per capture)")
    shutil.rmtree(args.folder, ignore_errors=True)
    args.folder.mkdir(parents=True)
    runs: list[Callable[[], dict[str, float]]]
    if args.into:
        def into(store: Path) -> dict[str, float]:
            path = copy_index(store, args.folder)
            maker = Maker()
            maker.n, maker.rng = 10**9, random.Random(7)  # numbers no store record has
            try:
                return measure_adds(Index(connect(path)), path, maker, batch)
            finally:
                for leftover in args.folder.glob(path.name + "*"):
                    leftover.unlink()
        runs = [lambda store=store: into(store) for store in args.into]
    else:
        sizes = [int(s) for s in args.sizes.split(",")]
        runs = [lambda size=size: measure(args.folder, size, batch) for size in sizes]
    for run in runs:
        m = run()
        size = int(m["size"])
        print(f"{size:>9,} {m['bytes_per_record']:>9,.0f} | {m['batch_written']:>22,.0f} "
              f"{m['batch_read']:>9,.0f} {m['batch_ms']:>6.2f} | {m['single_written']:>20,.0f} "
              f"{m['single_read']:>9,.0f} {m['single_ms']:>6.2f}", flush=True)
    shutil.rmtree(args.folder, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv)
