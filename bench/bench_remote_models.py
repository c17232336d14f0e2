"""A model file through repro's S3 remote against raw boto3, alternated, on loopback SeaweedFS.

``bench_remote.py`` times the models once each way, minutes apart; on a shared
machine the load moves more than that in between. Here one file of SIZE_MIB
goes up (``S3Remote.put_file``, resumable multipart, against boto3's
``upload_file`` with the same part size and threads) and comes down
(``S3Remote.get_file`` against ``download_file``) REPEAT times each, the two
sides alternating which goes first. Prints every time and the ratio of the sums.

Usage: python bench/bench_remote_models.py [SIZE_MIB] [REPEAT]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import write_model
from _seaweed import REGION, seaweedfs

from repro.remote.s3 import CONCURRENCY, MULTIPART_CHUNK, S3Remote
from repro.remote.spec import RemoteSpec


def main(argv: list[str]) -> None:
    import boto3
    from boto3.s3.transfer import TransferConfig

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("size_mib", nargs="?", type=int, default=1024, help="model size, MiB")
    parser.add_argument("repeat", nargs="?", type=int, default=4, help="runs of each")
    args = parser.parse_args(argv[1:])
    size_mib, repeat = args.size_mib, args.repeat
    base = Path(os.environ.get("BENCH_DIR", tempfile.gettempdir()))
    base.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-remote-models-", dir=base))
    times: dict[str, list[float]] = {}
    try:
        with seaweedfs(work) as endpoint:
            client = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
            client.create_bucket(Bucket="models")
            cfg = TransferConfig(multipart_threshold=MULTIPART_CHUNK,
                                 multipart_chunksize=MULTIPART_CHUNK, max_concurrency=CONCURRENCY)
            remote = S3Remote(RemoteSpec("bench", "s3://models/repro", endpoint))
            src, dest = work / "model.safetensors", work / "down"
            write_model(src, size_mib << 20)
            sides: dict[str, Any] = {
                "raw_upload_file": lambda i: client.upload_file(str(src), "models", f"raw/{i}",
                                                                Config=cfg),
                "repro_put_file": lambda i: remote.put_file(f"objects/m{i}", src),
                "raw_download_file": lambda i: client.download_file("models", f"raw/{i}",
                                                                    str(dest), Config=cfg),
                "repro_get_file": lambda i: remote.get_file(f"objects/m{i}", dest, size_mib << 20),
            }
            for i in range(repeat):
                for pair in (("raw_upload_file", "repro_put_file"),
                             ("raw_download_file", "repro_get_file")):
                    for name in pair if i % 2 == 0 else pair[::-1]:
                        t = time.perf_counter()
                        sides[name](i)
                        times.setdefault(name, []).append(round(time.perf_counter() - t, 2))
                        dest.unlink(missing_ok=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({
        "size_mib": size_mib, "repeat": repeat, "times_s": times, "load": os.getloadavg(),
        "put_file / upload_file": round(sum(times["repro_put_file"])
                                        / sum(times["raw_upload_file"]), 2),
        "get_file / download_file": round(sum(times["repro_get_file"])
                                          / sum(times["raw_download_file"]), 2)}, indent=1))


if __name__ == "__main__":
    main(sys.argv)
