"""boto3 against obstore on the same loopback SeaweedFS, for the calls a remote makes.

Both clients get the same settings where they have them (64 MiB multipart parts,
8 parts in flight; obstore also with its own defaults, 5 MiB and 12) and the same
bytes; each workload runs for each client in turn, REPEAT times, alternating
the order, and the best time is kept:

- one file of BIG_MIB (a model file): multipart upload, then download to a file;
- SMALL objects of 64 KiB: one PUT each, then one GET each (sequential);
- conditional writes: SMALL creates with ``If-None-Match: *``, SMALL moves with
  ``If-Match: <etag>``, and a stale ``If-Match`` that must be refused;
- a fresh process: import, client, first request (what a small push pays).

Usage: python bench/bench_s3_clients.py [BIG_MIB] [SMALL] [REPEAT]
Prints one JSON object (seconds; ``*_ratio`` is obstore / boto3).
obstore downloads as one stream (``get().stream()``), boto3 as parallel ranges.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import write_model
from _seaweed import REGION, seaweedfs

CHUNK = 64 << 20
THREADS = 8
SMALL_BYTES = 64 << 10


class Boto3Side:
    name = "boto3"

    def __init__(self, endpoint: str, bucket: str):
        import boto3
        from boto3.s3.transfer import TransferConfig

        self.client = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
        self.bucket = bucket
        self.cfg = TransferConfig(multipart_threshold=CHUNK, multipart_chunksize=CHUNK,
                                  max_concurrency=THREADS)

    def upload(self, src: Path, key: str) -> None:
        self.client.upload_file(str(src), self.bucket, key, Config=self.cfg)

    def download(self, key: str, dest: Path) -> None:
        self.client.download_file(self.bucket, key, str(dest), Config=self.cfg)

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def get(self, key: str) -> bytes:
        return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def create(self, key: str, data: bytes) -> str:
        return str(self.client.put_object(Bucket=self.bucket, Key=key, Body=data,
                                          IfNoneMatch="*")["ETag"])

    def move(self, key: str, data: bytes, etag: str) -> str:
        return str(self.client.put_object(Bucket=self.bucket, Key=key, Body=data,
                                          IfMatch=etag)["ETag"])


class ObstoreSide:
    name = "obstore"
    chunk, threads = CHUNK, THREADS

    def __init__(self, endpoint: str, bucket: str):
        from obstore.store import S3Store

        self.store = S3Store(bucket, endpoint=endpoint, region=REGION,
                             client_options={"allow_http": True})

    def upload(self, src: Path, key: str) -> None:
        import obstore

        obstore.put(self.store, key, src, chunk_size=self.chunk, max_concurrency=self.threads)

    def download(self, key: str, dest: Path) -> None:
        import obstore

        with dest.open("wb") as f:
            for chunk in obstore.get(self.store, key).stream(min_chunk_size=8 << 20):
                f.write(chunk)

    def put(self, key: str, data: bytes) -> None:
        import obstore

        obstore.put(self.store, key, data)

    def get(self, key: str) -> bytes:
        import obstore

        return bytes(obstore.get(self.store, key).bytes())

    def create(self, key: str, data: bytes) -> str:
        import obstore

        return str(obstore.put(self.store, key, data, mode="create")["e_tag"])

    def move(self, key: str, data: bytes, etag: str) -> str:
        import obstore

        return str(obstore.put(self.store, key, data, mode={"e_tag": etag})["e_tag"])


class ObstoreDefaultsSide(ObstoreSide):
    """obstore with its own multipart defaults (5 MiB parts, 12 in flight)."""

    name = "obstore_defaults"
    chunk, threads = 5 << 20, 12


STARTUP = {
    "boto3": "import boto3; c = boto3.client('s3', endpoint_url=E, region_name='us-east-1'); "
             "c.head_bucket(Bucket=B)",
    "obstore": "import obstore; from obstore.store import S3Store; "
               "s = S3Store(B, endpoint=E, region='us-east-1', "
               "client_options={'allow_http': True}); obstore.list(s).collect()",
}


def startup(endpoint: str, bucket: str) -> dict[str, float]:
    """A fresh process's import, client and first request (what a short push pays)."""
    found = {}
    for name, code in STARTUP.items():
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", f"E, B = {endpoint!r}, {bucket!r}; {code}"],
                           check=True)
            runs.append(time.perf_counter() - t)
        found[name] = round(min(runs), 3)
    return found


def best(f: Callable[[], Any], times: list[float]) -> None:
    t = time.perf_counter()
    f()
    times.append(time.perf_counter() - t)


def stale_refused(side: Any, key: str) -> bool:
    """A second create and a move from a stale version must both fail."""
    first = side.create(key, b"a")
    side.move(key, b"b", first)
    refused = 0
    for attempt in (lambda: side.create(key, b"c"), lambda: side.move(key, b"c", first)):
        try:
            attempt()
        except Exception:
            refused += 1
    return refused == 2


def measure(side: Any, work: Path, big: Path, blobs: list[bytes],
            t: dict[str, list[float]]) -> None:
    """One round of every workload with one client, into ``t`` (name -> times)."""
    dest = work / "down"
    best(lambda: side.upload(big, "big"), t.setdefault("big_upload", []))
    best(lambda: side.download("big", dest), t.setdefault("big_download", []))
    if dest.stat().st_size != big.stat().st_size:
        raise SystemExit(f"{side.name}: download has the wrong size")
    dest.unlink()
    best(lambda: [side.put(f"s/{i}", b) for i, b in enumerate(blobs)],
         t.setdefault("small_put", []))
    best(lambda: [side.get(f"s/{i}") for i in range(len(blobs))], t.setdefault("small_get", []))
    etags: list[str] = []
    best(lambda: etags.extend(side.create(f"c/{i}", b"x") for i in range(len(blobs))),
         t.setdefault("create_if_none_match", []))
    best(lambda: [side.move(f"c/{i}", b"y", e) for i, e in enumerate(etags)],
         t.setdefault("move_if_match", []))


def run(endpoint: str, work: Path, big_mib: int, n_small: int, repeat: int) -> dict[str, Any]:
    import boto3

    admin = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
    big = work / "big.safetensors"
    write_model(big, big_mib << 20)
    blobs = [os.urandom(SMALL_BYTES) for _ in range(n_small)]
    times: dict[str, dict[str, list[float]]] = {}
    refused: dict[str, bool] = {}
    for rep in range(repeat):
        sides: list[Any] = [Boto3Side, ObstoreSide, ObstoreDefaultsSide]
        for cls in sides if rep % 2 == 0 else sides[::-1]:
            bucket = f"c-{cls.name.replace('_', '-')}-{rep}"
            admin.create_bucket(Bucket=bucket)
            side = cls(endpoint, bucket)
            measure(side, work, big, blobs, times.setdefault(cls.name, {}))
            refused[cls.name] = stale_refused(side, "cas")
    out: dict[str, Any] = {"big_mib": big_mib, "small": n_small, "small_kib": SMALL_BYTES >> 10,
                           "repeat": repeat, "stale_writes_refused": refused}
    mb = big_mib * (1 << 20) / 1e6
    for what in times["boto3"]:
        b = min(times["boto3"][what])
        row: dict[str, Any] = out.setdefault(what, {"boto3_s": round(b, 3)})
        for name in ("obstore", "obstore_defaults"):
            o = min(times[name][what])
            row[f"{name}_s"], row[f"{name}_ratio"] = round(o, 3), round(o / b, 2)
        if what.startswith("big_"):
            for name in times:
                row[f"{name}_MBps"] = round(mb / min(times[name][what]), 1)
    out["startup_first_request_s"] = startup(endpoint, "c-boto3-0")
    return out


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("big_mib", nargs="?", type=int, default=1024, help="big file, MiB")
    parser.add_argument("n_small", nargs="?", type=int, default=1000, help="small files")
    parser.add_argument("repeat", nargs="?", type=int, default=2, help="runs of each")
    args = parser.parse_args(argv[1:])
    big_mib, n_small, repeat = args.big_mib, args.n_small, args.repeat
    base = Path(os.environ.get("BENCH_DIR", tempfile.gettempdir()))
    base.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-s3-clients-", dir=base))
    try:
        with seaweedfs(work) as endpoint:
            print(json.dumps(run(endpoint, work, big_mib, n_small, repeat), indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv)
