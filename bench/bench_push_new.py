"""``repro push`` without targets on a large store: what it reads grows with what is
new, not with the store.

Builds a store whose lineage index holds RECORDS records (a checkpoint each, out of
200; their objects are not written: a push reads no record the remote lists) and a
folder remote whose index lists them all (published as pushes publish it, a
segment per 100,000 records), its local copy synced, as after a clone or a push of
older code. Then, each a ``repro push`` process of its own (start-up included;
wall time, CPU time and peak RSS):

- ``first``: the first push since: no mark yet, every local record is looked up in
  the remote's local index (what every push without targets did before);
- ``nothing_new``: the same push again: from the mark on, nothing;
- ``new``: NEW real records (an output and a metadata blob each) added, pushed;
- ``all``: ``push --all``: every record looked up again (the full walk, on purpose).

Usage: python bench/bench_push_new.py RECORDS NEW DIR
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench_remote import make_records

from repro.api.remote import add_remote, index_path
from repro.api.repository import Repository
from repro.objects.hashing import hash_bytes
from repro.record import SCHEMA, Record
from repro.remote import index as rindex
from repro.remote.folder import FolderRemote
from repro.remote.segment import new_segment

CHUNK = 100_000
#: The ``repro`` console script, run by this interpreter (and this PYTHONPATH).
_CLI = "from repro.cli import run; run()"
CHECKPOINTS = 200


def _hex(n: int, kind: str) -> str:
    return hash_bytes(f"{kind}{n}".encode())


def _records(first: int, n: int) -> Iterator[Record]:
    """Indexed records whose objects are not written (ids made up, shapes real)."""
    for i in range(first, first + n):
        k = i % CHECKPOINTS
        data = {"schema": SCHEMA, "tool": {"name": "comfyui"}, "params": {"seed": i},
                "output": {"blake3": _hex(i, "output"), "path": f"outputs/{i:07d}.png",
                           "size": 400_000, "media_type": "image/png"},
                "models": [{"role": "checkpoint", "name": f"ckpt_{k:03d}.safetensors",
                            "blake3": _hex(k, "model")}],
                "source": {"format": "comfyui-png", "blobs": {"prompt": _hex(i, "blob")}},
                "captured": {"at": f"2026-{1 + i % 12:02d}-01T12:00:00Z"}}
        yield Record.from_dict(data, id=_hex(i, "record"))


def build(work: Path, records: int) -> Repository:
    """The store, its remote listing every record, and the remote's local index synced."""
    repo = Repository.init(work / "a")
    nas = work / "nas"
    nas.mkdir()
    add_remote(repo, "origin", str(nas))
    remote = FolderRemote(nas)
    index = rindex.sync(remote, index_path(repo, "origin"))
    for first in range(0, records, CHUNK):
        n = min(CHUNK, records - first)
        repo.index.load(_records(first, n))
        ids = [_hex(i, "record") for i in range(first, first + n)]
        rindex.publish(remote, index, new_segment({}, ids))
        print(f"  built {first + n:,} records", file=sys.stderr, flush=True)
    index.close()
    return repo


def push_step(repo: Repository, *args: str) -> dict[str, Any]:
    """One ``repro push`` process: wall and CPU seconds, peak RSS, what it moved."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", _CLI, "-C", str(repo.root), "push",
                                 "--json", *args], stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # its own CPU time and peak RSS
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            raise SystemExit(f"push {' '.join(args)} failed: {err.read().decode()[-2000:]}")
        done = json.loads(out.read())
    step = {"s": round(seconds, 3), "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
            "peak_rss_mib": usage.ru_maxrss // 1024, "records": len(done["records"]),
            "objects": done["objects"], "packs": done["packs"]}
    print(f"push {' '.join(args)}: {step}", file=sys.stderr, flush=True)
    return step


def main(records: int, new: int, work: Path) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    res: dict[str, Any] = {"records": records, "new": new,
                           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                           "load_before": os.getloadavg()}
    start = time.perf_counter()
    repo = build(work, records)
    res["build_s"] = round(time.perf_counter() - start, 1)
    res["first"] = push_step(repo)
    res["nothing_new"] = push_step(repo)
    make_records(repo, records, new, [_hex(k, "model") for k in range(3)], 64)
    res["new"] = push_step(repo)
    res["all"] = push_step(repo, "--all")
    res["load_after"] = os.getloadavg()
    res["ratios"] = {"nothing_new / first (wall)": round(res["nothing_new"]["s"]
                                                         / res["first"]["s"], 3),
                     "new / first (wall)": round(res["new"]["s"] / res["first"]["s"], 3)}
    return res


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("records", type=int, help="records in the local store")
    parser.add_argument("new", type=int, help="new records for the incremental push")
    parser.add_argument("dir", type=Path, help="a folder for the store and the remote")
    args = parser.parse_args()
    print(json.dumps(main(args.records, args.new, args.dir), indent=1))
