"""The first ``repro push`` after a ``repro clone``: it reads the new record, not the
records the clone brought (the clone moved the push's mark over them).

Builds a store of RECORDS records (a 4 KiB output and a metadata blob each),
pushes it to a folder remote, then for each of ROUNDS rounds: clones it twice
(each a ``repro clone`` process), drops the mark of the second clone (the control:
what every clone left before it kept one), adds one record to each, and pushes
each (a ``repro push`` process; wall, CPU, peak RSS). Also times, in this process,
the step the clone spends on the mark (``mark_what_the_remote_has`` run again on a
clone whose mark was dropped) against the clone's wall time.

Usage: python bench/bench_push_after_clone.py RECORDS ROUNDS DIR
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

from bench_push_new import _CLI, _hex, push_step
from bench_remote import make_records

from repro.api.pulled_mark import mark_what_the_remote_has
from repro.api.remote import add_remote, index_path
from repro.api.repository import Repository
from repro.remote.index_cache import IndexCache


def clone_step(nas: Path, dest: Path) -> float:
    """One ``repro clone`` process; its wall seconds."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", _CLI, "clone", "--json", str(nas), str(dest)],
                   check=True, stdout=subprocess.DEVNULL)
    return round(time.perf_counter() - start, 3)


def drop_mark(repo: Repository) -> None:
    cache = IndexCache(index_path(repo, "origin"))
    cache.db.execute("DELETE FROM meta WHERE key = 'pushed'")
    cache.close()


def mark_step(repo: Repository) -> float:
    """The clone's mark step alone, on a clone whose mark was dropped; its seconds."""
    drop_mark(repo)
    cache = IndexCache(index_path(repo, "origin"))
    start = time.perf_counter()
    mark_what_the_remote_has(repo, cache)
    seconds = time.perf_counter() - start
    cache.close()
    return round(seconds, 3)


def one_round(work: Path, nas: Path, records: int, n: int) -> dict[str, Any]:
    marked, dropped = work / f"marked{n}", work / f"dropped{n}"
    res: dict[str, Any] = {"clone_s": clone_step(nas, marked)}
    clone_step(nas, dropped)
    res["mark_step_s"] = mark_step(Repository(dropped))
    drop_mark(Repository(dropped))
    models = [_hex(k, "model") for k in range(3)]
    for name, root in (("push_after_clone", marked), ("push_without_mark", dropped)):
        repo = Repository(root)
        make_records(repo, records + 10 * n, 1, models, 4)
        repo.close()
        res[name] = push_step(Repository(root), "--no-models")
    return res


def main(records: int, rounds: int, work: Path) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    res: dict[str, Any] = {"records": records,
                           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                           "load_before": os.getloadavg()}
    nas = work / "nas"
    nas.mkdir()
    repo = Repository.init(work / "a")
    add_remote(repo, "origin", str(nas))
    make_records(repo, 0, records, [_hex(k, "model") for k in range(3)], 4)
    push_step(repo, "--no-models")
    res["rounds"] = [one_round(work, nas, records, n) for n in range(rounds)]
    res["load_after"] = os.getloadavg()
    res["ratios"] = [{"push after clone / without mark (wall)":
                      round(r["push_after_clone"]["s"] / r["push_without_mark"]["s"], 3),
                      "mark step / clone (wall)": round(r["mark_step_s"] / r["clone_s"], 4)}
                     for r in res["rounds"]]
    return res


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("records", type=int, help="records in the store pushed and cloned")
    parser.add_argument("rounds", type=int, help="rounds of two clones each")
    parser.add_argument("dir", type=Path, help="a folder for the stores (emptied)")
    args = parser.parse_args()
    print(json.dumps(main(args.records, args.rounds, args.dir), indent=1))
