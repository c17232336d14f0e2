"""A full S3 remote: SeaweedFS on a 64 MiB tmpfs of its own (mounted in a user and
mount namespace, so no root is needed) with 8 MB volumes, filled by another bucket
until it has no volume left for new data. A push then fails with one line and exit
11, the remote's index names nothing, the store is untouched; once the other bucket
is deleted (space freed) the same push completes and a clone gets every record."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from repro.api.repository import Repository
from tests.helpers import make_output, run, run_json
from tests.remote.conftest import ACCESS, SECRET, S3Engine, running_weed

#: Runs weed in a mount namespace where its data folder ($0) is a small tmpfs.
SMALL_DISK = 'mount -t tmpfs -o size=64m tmpfs "$0" && exec "$@"'


@pytest.fixture(scope="module")
def small_seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Engine]:
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare (util-linux) is not installed")
    root = tmp_path_factory.mktemp("small-seaweedfs")
    data = root / "data"
    data.mkdir()
    userns = [unshare, "--user", "--map-root-user", "--mount"]
    probe = subprocess.run([*userns, "sh", "-c", 'mount -t tmpfs -o size=1m tmpfs "$0"',
                            str(data)], capture_output=True, text=True, timeout=60)
    if probe.returncode:
        pytest.skip(f"cannot mount a tmpfs in a user namespace here: {probe.stderr.strip()}")
    with running_weed(root, wrapper=[*userns, "sh", "-c", SMALL_DISK, str(data)],
                      dir_=data, extra=["-master.volumeSizeLimitMB=8"]) as engine:
        yield engine


def _fill(engine: S3Engine) -> str:
    """A bucket of 4 MiB objects written until the engine refuses one: the bucket."""
    client = engine.client()
    filler = engine.new_bucket()
    blob = b"\x5a" * (4 << 20)
    for n in range(64):
        try:
            client.put_object(Bucket=filler, Key=f"f{n}", Body=blob)
        except Exception:
            return filler
    pytest.fail("64 MiB of SeaweedFS volumes took 256 MiB: the disk was not small")


def _empty(engine: S3Engine, bucket: str) -> None:
    client = engine.client()
    for obj in client.list_objects_v2(Bucket=bucket).get("Contents", []):
        client.delete_object(Bucket=bucket, Key=obj["Key"])
    client.delete_bucket(Bucket=bucket)


def _store_files(project: Path) -> list[Path]:
    """The store's files, but the remotes' caches and SQLite's own ``-wal``/``-shm``
    beside the index (there while a connection is open: one the garbage collector
    has not closed yet, in this process, is not a change to the store)."""
    return sorted(p.relative_to(project) for p in (project / ".repro").rglob("*")
                  if p.is_file() and "remotes" not in p.parts
                  and not p.name.endswith(("-wal", "-shm")))

def test_a_full_s3_remote(capsys: pytest.CaptureFixture[str], project: Path, tmp_path: Path,
                          small_seaweedfs: S3Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (("AWS_ACCESS_KEY_ID", ACCESS), ("AWS_SECRET_ACCESS_KEY", SECRET),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    paths = [make_output(project, f"f{i}.png", seed=90 + i) for i in range(2)]
    ids = [r["id"] for r in run_json(capsys, "-C", project, "add", *paths)["records"]]
    bucket = small_seaweedfs.new_bucket()
    url = f"s3://{bucket}/studio"
    run(capsys, "-C", project, "remote", "add", "origin", url, "--endpoint",
        small_seaweedfs.endpoint)
    filler = _fill(small_seaweedfs)
    before = _store_files(project)

    code, _, err = run(capsys, "-C", project, "push")
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 11 and len(lines) == 2, err
    assert lines[0].startswith(f"error: the S3 engine of {url} could not store ")
    assert lines[1].startswith("hint: it may be out of space or failing")
    check = run_json(capsys, "-C", project, "remote", "check")
    assert check["ok"] and check["segments"] == 0 and check["records"] == 0  # names nothing
    after = _store_files(project)
    assert after == before  # the store untouched
    assert sorted(Repository.discover(project).index.iter_ids()) == sorted(ids)

    _empty(small_seaweedfs, filler)  # space freed
    pushed = run_json(capsys, "-C", project, "push")
    assert sorted(pushed["records"]) == sorted(ids)
    assert run_json(capsys, "-C", project, "remote", "check")["ok"]
    run_json(capsys, "clone", url, tmp_path / "laptop", "--endpoint", small_seaweedfs.endpoint)
    assert set(Repository.discover(tmp_path / "laptop").index.iter_ids()) == set(ids)
