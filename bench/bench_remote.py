"""Push and pull through a real S3 engine on loopback (SeaweedFS ``weed mini``).

Builds a store of RECORDS records, each with an output of OUTPUT_KIB random
bytes and a metadata blob, using MODELS model files of MODEL_MIB (record i uses
model i % MODELS). Then, in one run against one endpoint:

- raw, with one boto3 client set up as ``repro.remote.s3`` sets up its own
  (64 MiB parts, 8 threads): the models as multipart ``upload_file`` one after
  the other; the small objects one PUT each (8 threads); the same small bytes as
  one multipart upload (the floor); and the same downloads;
- ``repro push --no-models`` (records, blobs, outputs: packed), ``repro push``
  (the models), a push with nothing new, ``repro clone`` into a second store;
- RECORDS_NEW new records: ``repro push``, then ``repro pull`` on the clone
  (``--profile DIR``: the clone and this pull under cProfile, the top printed
  to stderr);
- with ``--dvc PATH``: the same outputs and models as files in a DVC repository,
  ``dvc push`` to an S3 remote at the same endpoint, ``dvc pull`` into a fresh
  copy of the repository, and the same for the new outputs (``_dvc.py``).

Every ``repro`` and ``dvc`` step is its own process (start-up included); the
requests, bytes and peak memory of the repro steps are counted (``_metered.py``).

Usage: python bench/bench_remote.py [--records N] [--models N] [--model-mib N]
       [--output-kib N] [--new N] [--dvc PATH] [--profile DIR] [--dir DIR] [--out FILE]
Prints one JSON object (seconds, bytes; ``ratios`` compares like with like).
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _common import write_model
from _dvc import DvcSide
from _seaweed import REGION, Meter, seaweedfs

from repro.api.repository import Repository
from repro.record import from_bytes

HERE = Path(__file__).resolve().parent
THREADS = 8


def make_records(repo: Repository, first: int, n: int, models: list[str], kib: int) -> None:
    with repo.store.batch():
        records = []
        for i in range(first, first + n):
            out = repo.store.put_bytes(os.urandom(kib * 1024))
            blob = repo.store.put_bytes(json.dumps({"prompt": {"3": {"seed": i}}}).encode())
            data = {"schema": "repro.record/2",
                    "output": {"blake3": out, "path": f"outputs/{i:06d}.png",
                               "size": kib * 1024, "media_type": "image/png"},
                    "tool": {"name": "comfyui"}, "params": {"seed": i, "prompt": "a fox"},
                    "models": [{"role": "checkpoint", "name": f"base{i % len(models)}"
                                ".safetensors", "blake3": models[i % len(models)]}],
                    "source": {"format": "comfyui-png", "blobs": {"prompt": blob}},
                    "captured": {"at": "2026-12-06T12:00:00Z"}}
            raw = json.dumps(data, sort_keys=True).encode()
            rid = repo.store.put_bytes(raw, group=1)
            records.append(from_bytes(raw, id=rid))
    repo.index.add_many(records)


def outputs_of(repo: Repository, first: int = 0) -> dict[str, str]:
    """``outputs/NNNNNN.png`` -> object id, for records from number ``first`` on."""
    found = {}
    for rid in repo.index.iter_ids(newest_first=False):
        record = from_bytes(repo.store.read_bytes(rid), id=rid)
        if int(Path(record.output.path or "0").stem) >= first:
            found[str(record.output.path)] = record.output.blake3
    return found


def timed(f: Any) -> tuple[float, Any]:
    t = time.perf_counter()
    value = f()
    return round(time.perf_counter() - t, 3), value


def run_step(args: list[str], cwd: Path, meter_file: Path | None = None,
             profile: str | None = None) -> dict[str, Any]:
    """One ``repro`` (through ``_metered.py``) or other command: time, peak RSS, meter."""
    env = dict(os.environ)
    if profile:
        env["BENCH_PROFILE"] = profile
    if meter_file is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])
        args = [sys.executable, str(HERE / "_metered.py"), str(meter_file), *args]
    log = cwd / "step.log"  # the last step's output, for its error message
    t = time.perf_counter()
    with log.open("wb") as f:
        proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=f, stderr=subprocess.STDOUT)
        proc.wait()
    seconds = time.perf_counter() - t
    if proc.returncode:
        raise SystemExit(f"{' '.join(map(str, args))} failed ({proc.returncode}): "
                         f"{log.read_text()[-2000:]}")
    step: dict[str, Any] = {"s": round(seconds, 3)}
    print(f"{' '.join(map(str, args[-4:]))}: {seconds:.1f} s", file=sys.stderr, flush=True)
    if meter_file is not None:
        step.update(json.loads(meter_file.read_text()))
    return step


def raw_side(client: Any, repo: Repository, models: list[str], small: list[str],
             work: Path) -> dict[str, Any]:
    """The same bytes with the same client and transfer settings, no repro."""
    from boto3.s3.transfer import TransferConfig

    from repro.remote import s3 as s3mod

    cfg = TransferConfig(multipart_threshold=s3mod.MULTIPART_CHUNK,
                         multipart_chunksize=s3mod.MULTIPART_CHUNK,
                         max_concurrency=s3mod.CONCURRENCY)
    meter = Meter()
    meter.attach(client)
    pool = ThreadPoolExecutor(THREADS)
    res: dict[str, Any] = {}

    def step(name: str, f: Any) -> None:
        res[name] = {"s": timed(f)[0], **meter.reset()}
        print(f"{name}: {res[name]['s']} s", file=sys.stderr, flush=True)

    concat = work / "small.concat"
    with concat.open("wb") as f:
        for o in small:
            f.write(repo.store.read_bytes(o, verify=False))
    step("raw_models_upload", lambda: [client.upload_file(
        str(repo.store.path(m)), "bench-raw", f"models/{m}", Config=cfg) for m in models])
    step("raw_small_put_each", lambda: list(pool.map(lambda o: client.put_object(
        Bucket="bench-raw", Key=f"o/{o}", Body=repo.store.read_bytes(o, verify=False)), small)))
    step("raw_small_one_multipart_upload", lambda: client.upload_file(
        str(concat), "bench-raw", "concat", Config=cfg))
    down = work / "raw-down"
    down.mkdir()
    step("raw_models_download", lambda: [client.download_file(
        "bench-raw", f"models/{m}", str(down / m), Config=cfg) for m in models])
    step("raw_small_get_each", lambda: list(pool.map(lambda o: client.get_object(
        Bucket="bench-raw", Key=f"o/{o}")["Body"].read(), small)))
    step("raw_small_one_multipart_download", lambda: client.download_file(
        "bench-raw", "concat", str(down / "concat"), Config=cfg))
    shutil.rmtree(down)
    concat.unlink()
    pool.shutdown()
    return res


def print_profile(path: str) -> None:
    stats = pstats.Stats(path, stream=sys.stderr)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(15)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--models", type=int, default=3)
    ap.add_argument("--model-mib", type=int, default=1024)
    ap.add_argument("--output-kib", type=int, default=64)
    ap.add_argument("--new", type=int, default=100)
    ap.add_argument("--dvc", help="the dvc executable (of its own venv) to compare with")
    ap.add_argument("--profile", help="profile the clone and the pull of the new records "
                    "into DIR/clone.prof and DIR/pull_new.prof")
    ap.add_argument("--dir", default=tempfile.gettempdir())
    ap.add_argument("--out", help="also write the JSON here, step by step")
    opt = ap.parse_args()
    Path(opt.dir).mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-remote-", dir=opt.dir))
    try:
        with seaweedfs(work) as endpoint:
            res = run(opt, work, endpoint)
        print(json.dumps(res, indent=1))
        if opt.profile:
            for step in ("clone", "pull_new"):
                print_profile(str(Path(opt.profile) / f"{step}.prof"))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(opt: argparse.Namespace, work: Path, endpoint: str) -> dict[str, Any]:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
    for b in ("raw", "repro", "dvc"):
        client.create_bucket(Bucket=f"bench-{b}")
    repo = Repository.init(work / "a")
    models = []
    for k in range(opt.models):
        write_model(work / "models" / f"base{k}.safetensors", opt.model_mib << 20)
        models.append(repo.store.put_file(work / "models" / f"base{k}.safetensors",
                                          mode="hardlink"))
    build_s, _ = timed(lambda: make_records(repo, 0, opt.records, models, opt.output_kib))
    small = [o for o in repo.store if o not in models]
    res: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "records": opt.records, "objects_small": len(small),
        "small_bytes": sum(repo.store.size(o) for o in small),
        "output_kib": opt.output_kib, "models": opt.models, "model_mib": opt.model_mib,
        "build_s": build_s, "load_before": os.getloadavg()}
    res.update(raw_side(client, repo, models, small, work))
    keep(opt, res)
    a, b = work / "a", work / "b"
    meter = work / "meter.json"

    def prof(step: str) -> str | None:
        return str(Path(opt.profile) / f"{step}.prof") if opt.profile else None
    url = "s3://bench-repro/studio"
    run_step(["remote", "add", "origin", url, "--endpoint", endpoint], a, meter)
    res["push_records"] = run_step(["push", "--no-models"], a, meter)
    res["push_models"] = run_step(["push"], a, meter)
    res["push_nothing_new"] = run_step(["push"], a, meter)
    res["clone"] = run_step(["clone", url, str(b), "--endpoint", endpoint], work, meter,
                            profile=prof("clone"))
    make_records(repo, opt.records, opt.new, models, opt.output_kib)
    res["push_new"] = run_step(["push"], a, meter)
    res["pull_new"] = run_step(["pull"], b, meter, profile=prof("pull_new"))
    res["pull_nothing_new"] = run_step(["pull"], b, meter)
    listed = client.list_objects_v2(Bucket="bench-repro", Prefix="studio/index/")  # the bench
    res["remote_index_objects"] = listed["KeyCount"]                               # may list
    res["remote_index_bytes"] = sum(o["Size"] for o in listed.get("Contents", []))
    keep(opt, res)
    shutil.rmtree(b)
    if opt.dvc:
        dvc = DvcSide(opt.dvc, work / "dvc", endpoint, run_step)
        res["dvc"] = dvc.run(repo, outputs_of(repo), models, opt.records)
    res["load_after"] = os.getloadavg()
    res["ratios"] = ratios(res)
    keep(opt, res)
    return res


def keep(opt: argparse.Namespace, res: dict[str, Any]) -> None:
    """Write what was measured so far (``--out``), so that a late failure loses nothing."""
    if opt.out:
        Path(opt.out).write_text(json.dumps(res, indent=1))


def ratios(res: dict[str, Any]) -> dict[str, float]:
    def r(a: float, b: float) -> float:
        return round(a / b, 2)

    out = {
        "push_models / raw_models_upload": r(res["push_models"]["s"],
                                             res["raw_models_upload"]["s"]),
        "push_records / raw_small_put_each": r(res["push_records"]["s"],
                                               res["raw_small_put_each"]["s"]),
        "push_records / raw_small_one_multipart_upload": r(
            res["push_records"]["s"], res["raw_small_one_multipart_upload"]["s"]),
        "clone / raw downloads (models + small one multipart)": r(
            res["clone"]["s"], res["raw_models_download"]["s"]
            + res["raw_small_one_multipart_download"]["s"]),
    }
    if "dvc" in res:
        d = res["dvc"]
        out["repro push (records + models) / dvc push"] = r(
            res["push_records"]["s"] + res["push_models"]["s"], d["push"]["s"])
        out["repro clone / dvc pull (fresh)"] = r(res["clone"]["s"], d["pull"]["s"])
        out["repro push new / dvc push new"] = r(res["push_new"]["s"], d["push_new"]["s"])
        out["repro pull new / dvc pull new"] = r(res["pull_new"]["s"], d["pull_new"]["s"])
    return out


if __name__ == "__main__":
    main()
