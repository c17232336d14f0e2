"""The remote index at scale: a folder remote built by many pushes, then a sync of
100 new records, against the previous design (every segment parsed) in the same run.

Builds a folder remote the way pushes do (``repro.remote.index.publish``, with its
compaction): RECORDS records, PER_PUSH a push, each record with 4 objects (the
record, its output, two metadata blobs) in the push's pack, and MODELS model
versions (loose objects) spread over the pushes. Then, each step in a fresh
subprocess (its own peak RSS):

- ``clone``: a new local cache synced from nothing;
- ``sync``: another machine pushes 100 new records; the clone's cache syncs them;
- ``push``: a push of 100 new records from the machine that built the remote:
  sync, look up the 100 records and their 400 objects, publish the segment;
- ``states``: what a push without targets asks the cache first: which of every
  local record (here: every record the remote has) the remote has already;
- ``baseline``: what every push and pull did before (every segment HEAD lists
  parsed into in-memory dicts).

The segments a merge replaces are deleted by the first push ``RETIRE_GRACE``
(an hour) after it; here the grace is GRACE seconds, 0 unless given (10,000
pushes are months of a studio's work, not the minutes this build takes), so what
the remote holds at the end is what it holds in use: the segments HEAD lists, and
those the last merges retired. With GRACE 3600 the build is a burst of pushes
within the hour: nothing is deleted and HEAD lists every retired segment.

Usage: python bench/bench_remote_index.py RECORDS MODELS PER_PUSH DIR [GRACE]
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
from _metered import peak_rss_mib

from repro.objects.hashing import hash_bytes
from repro.remote import index as rindex
from repro.remote.folder import FolderRemote
from repro.remote.segment import Location, new_segment

OBJECTS_PER_RECORD = 4


def _hex(n: int, kind: str) -> str:
    return hash_bytes(f"{kind}{n}".encode())


def push_segment(push: int, per_push: int, models_per_push: float, first_record: int
                 ) -> tuple[dict[str, Location], list[str]]:
    """What one push of ``per_push`` records publishes (ids made up, shapes real)."""
    pack = _hex(push, "pack")
    objects: dict[str, Location] = {}
    records = []
    offset = 0
    for r in range(first_record, first_record + per_push):
        for k in range(OBJECTS_PER_RECORD):
            objects[_hex(r, f"o{k}")] = (pack, offset, 40_000)
            offset += 40_000
        records.append(_hex(r, "o0"))
    for m in range(int(push * models_per_push), int((push + 1) * models_per_push)):
        objects[_hex(m, "model")] = (None, 0, 2_000_000_000)
    return objects, records


class CountingDeletes(FolderRemote):
    """A folder remote that adds up the bytes of the segments it deletes: what the
    remote would hold without deleting them is that plus what is left."""

    deleted_bytes = 0

    def delete(self, key: str) -> None:
        self.deleted_bytes += (self.root / key).stat().st_size
        super().delete(key)


def build(remote_dir: Path, cache: Path, records: int, models: int, per_push: int,
          grace: float) -> tuple[float, int]:
    """Seconds to build the remote, and the bytes of the segments deleted on the way."""
    remote_dir.mkdir(parents=True, exist_ok=True)
    remote = CountingDeletes(remote_dir)
    pushes = records // per_push
    rindex.RETIRE_GRACE = grace  # see the module's docstring
    index = rindex.sync(remote, cache)
    start = time.perf_counter()
    for push in range(pushes):
        objects, ids = push_segment(push, per_push, models / pushes, push * per_push)
        rindex.publish(remote, index, new_segment(objects, ids))
        if push % 500 == 0:
            print(f"  built {push}/{pushes} pushes", file=sys.stderr, flush=True)
    index.close()
    return time.perf_counter() - start, remote.deleted_bytes


def step(name: str, remote_dir: Path, cache: Path, first_record: int) -> dict[str, Any]:
    """One measured step, run in this (fresh) process."""
    remote = FolderRemote(remote_dir)
    start = time.perf_counter()
    out: dict[str, Any] = {}
    if name in ("clone", "sync"):
        index = rindex.sync(remote, cache)
        out["seconds"] = round(time.perf_counter() - start, 3)
        out["records"] = index.cache.counts()["records"]  # after the clock: a full scan
        index.close()
    elif name == "push":
        index = rindex.sync(remote, cache)
        objects, ids = push_segment(10**9 + first_record, 100, 0, first_record)
        known = index.cache.record_states(ids)
        listed = index.cache.locations(objects)
        rindex.publish(remote, index, new_segment(
            {o: w for o, w in objects.items() if o not in listed},
            [r for r in ids if r not in known]))
        index.close()
    elif name == "states":  # push without targets: which of all local records are new?
        index = rindex.sync(remote, cache)
        ids = index.cache.records_since(0)  # stands for the local store's record ids
        start = time.perf_counter()
        out["records"] = len(index.cache.record_states(ids))
        index.close()
    elif name == "baseline":
        out["records"] = _baseline(remote)
    out.setdefault("seconds", round(time.perf_counter() - start, 3))
    out["peak_rss_mib"] = peak_rss_mib()  # not ru_maxrss: that one counts this run's parent
    return out


def _baseline(remote: FolderRemote) -> int:
    """The previous design: every segment HEAD lists, read and parsed into dicts."""
    objects: dict[str, Location] = {}
    records: set[str] = set()
    for entry in rindex.read_head(remote).entries:
        body = orjson.loads(remote.get(rindex.segment_key(entry.seg)))
        for oid, (pack, offset, size) in body["objects"].items():
            objects[oid] = (pack, int(offset), int(size))
        records.update(body["records"])
    return len(records)


def run_step(name: str, remote_dir: Path, cache: Path, first_record: int = 0) -> dict[str, Any]:
    got = subprocess.run([sys.executable, __file__, "--step", name, str(remote_dir), str(cache),
                          str(first_record)], capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(got.stdout)
    return result


def _size(paths: list[Path]) -> int:
    return sum(p.stat().st_size for p in paths if p.exists())


def main(records: int, models: int, per_push: int, work: Path, grace: float) -> dict[str, Any]:
    remote_dir, writer = work / "remote", work / "writer.sqlite"
    res: dict[str, Any] = {"records": records, "models": models, "per_push": per_push,
                           "grace": grace, "load": os.getloadavg()[0]}
    seconds, deleted = build(remote_dir, writer, records, models, per_push, grace)
    res["build_seconds"] = round(seconds, 1)
    remote = FolderRemote(remote_dir)
    head = rindex.read_head(remote)
    res["head_entries"] = len(head.entries)
    res["head_bytes"] = len(remote.get(rindex.HEAD))
    res["index_listed_bytes"] = sum(e.size for e in head.entries)
    res["index_all_segment_bytes"] = _size(list((remote_dir / "index/seg").iterdir()))
    res["retired_segments"] = len(head.retired)
    res["index_segment_bytes_without_deleting"] = res["index_all_segment_bytes"] + deleted
    clone = work / "clone.sqlite"
    res["clone"] = run_step("clone", remote_dir, clone)
    res["cache_bytes"] = _size([clone, Path(f"{clone}-wal")])
    other = work / "other.sqlite"
    run_step("sync", remote_dir, other)  # a second machine, synced
    run_step("push", remote_dir, other, records)  # ... pushes 100 new records
    res["sync_100"] = run_step("sync", remote_dir, clone)
    res["push_100"] = run_step("push", remote_dir, writer, records + 100)
    res["states_all"] = run_step("states", remote_dir, clone)
    res["baseline"] = run_step("baseline", remote_dir, clone)
    res["sync_vs_baseline_time"] = round(res["baseline"]["seconds"] / res["sync_100"]["seconds"], 1)
    return res


if __name__ == "__main__":
    if sys.argv[1:2] == ["--step"]:  # one step in a child process (see ``step``)
        print(json.dumps(step(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]),
                              int(sys.argv[5]))))
    else:
        parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
        parser.add_argument("records", type=int)
        parser.add_argument("models", type=int, help="model versions")
        parser.add_argument("per_push", type=int, help="records per simulated push")
        parser.add_argument("dir", type=Path, help="a folder for the remote and caches")
        parser.add_argument("grace", type=float, nargs="?", default=0.0,
                            help="seconds merged-away segments wait before deletion")
        args = parser.parse_args()
        print(json.dumps(main(args.records, args.models, args.per_push, args.dir, args.grace),
                         indent=1))
