"""``repro push --no-models`` of many records, this checkout against another, in turn.

Builds a store of RECORDS records (an output of OUTPUT_KIB random bytes and a
metadata blob each, as ``bench_remote.py`` makes them) and a SeaweedFS endpoint on
loopback, then pushes the store ROUNDS times with each source tree, alternating,
each push its own ``repro`` process (start-up included) to a fresh prefix of one
bucket, with its requests, bytes and peak RSS counted (``_metered.py``). The
alternation is what makes the ratio mean something on a shared machine.

Usage: python bench/bench_push_records.py [--records N] [--output-kib N] [--rounds N]
       [--before SRC] [--dir DIR]
Prints one JSON object: every push, the median time per tree, and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import source_trees
from _seaweed import REGION, seaweedfs
from bench_remote import make_records, run_step

from repro.api.repository import Repository


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--output-kib", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--before", help="another checkout's src/ to push with, in turn")
    ap.add_argument("--dir", default=tempfile.gettempdir())
    opt = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-push-", dir=opt.dir))
    try:
        print(json.dumps(run(opt, work), indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(opt: argparse.Namespace, work: Path) -> dict[str, Any]:
    import boto3

    trees = source_trees(opt.before)
    repo = Repository.init(work / "a")
    models = [repo.store.put_bytes(os.urandom(1 << 20)) for _ in range(3)]  # not pushed
    make_records(repo, 0, opt.records, models, opt.output_kib)
    res: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                           "records": opt.records, "output_kib": opt.output_kib,
                           "pushes": []}
    path = os.environ.get("PYTHONPATH", "")
    with seaweedfs(work) as endpoint:
        boto3.client("s3", endpoint_url=endpoint, region_name=REGION).create_bucket(
            Bucket="bench-push")
        for r in range(opt.rounds):
            for k, (label, src) in enumerate(trees.items()):
                os.environ["PYTHONPATH"] = os.pathsep.join([src, path])
                name = f"r{r}t{k}"
                meter = work / "meter.json"
                run_step(["remote", "add", name, f"s3://bench-push/{name}", "--endpoint",
                          endpoint], repo.root, meter)
                step = run_step(["push", name, "--no-models"], repo.root, meter)
                step.update(tree=label or "this", load=round(os.getloadavg()[0], 1))
                print(json.dumps(step), file=sys.stderr, flush=True)
                res["pushes"].append(step)
    os.environ["PYTHONPATH"] = path
    medians = {t: statistics.median(p["s"] for p in res["pushes"] if p["tree"] == t)
               for t in dict.fromkeys(p["tree"] for p in res["pushes"])}
    res["median_s"] = medians
    if "before: " in medians:
        res["this / before"] = round(medians["this"] / medians["before: "], 2)
    return res


if __name__ == "__main__":
    main()
