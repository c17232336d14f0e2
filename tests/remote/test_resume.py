"""Push and pull killed midway (SIGKILL at a transfer checkpoint, in a real
subprocess) and run again: nothing half-sent is listed or stored as present, and
the second run moves only what is missing (bytes counted by the transfer)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from repro.api.repository import Repository
from repro.demo import model_bytes, write_safetensors
from repro.remote.index import PACK_MAX_OBJECT
from tests.helpers import make_output, run, run_json
from tests.remote.conftest import S3Engine

RUN = "import sys\nfrom repro.cli import main\nsys.exit(main(sys.argv[1:]))\n"
MODEL_SIZE = PACK_MAX_OBJECT + (1 << 20)


def _killed_at(checkpoint: str, *args: str | Path) -> None:
    env = {**os.environ, "REPRO_TEST_CRASH_AT": checkpoint}
    proc = subprocess.run([sys.executable, "-c", RUN, *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr


@pytest.fixture
def big(capsys: pytest.CaptureFixture[str], project: Path) -> tuple[str, str]:
    """A record whose checkpoint is large (sent loose, multipart): (record, model)."""
    model = write_safetensors(project / "models/checkpoints/big.safetensors",
                              model_bytes(9, MODEL_SIZE))
    path = make_output(project, "big.png", seed=5, ckpt=model.name)
    rid = run_json(capsys, "-C", project, "add", path)["records"][0]["id"]
    record = Repository.discover(project).load_record(rid)
    return rid, next(m.blake3 for m in record.models if m.name == model.name)


def test_a_push_killed_after_the_model_sends_only_the_rest(
        capsys: pytest.CaptureFixture[str], project: Path, tmp_path: Path,
        remote_url: tuple[str, list[str]], big: tuple[str, str]) -> None:
    rid, model = big
    run(capsys, "-C", project, "remote", "add", "origin", remote_url[0], *remote_url[1])
    _killed_at("push.sent:1", "-C", project, "push")  # after the model, before the packs
    # nothing is listed: a clone sees no record, and the remote's index is sound
    assert run_json(capsys, "clone", remote_url[0], tmp_path / "early", *remote_url[1])["records"] == []
    assert run_json(capsys, "-C", project, "remote", "check")["segments"] == 0

    resumed = run_json(capsys, "-C", project, "push")
    assert resumed["records"] == [rid] and resumed["large"] == 1 and resumed["reused"] == 1
    (tmp_path / "nas2").mkdir()
    run(capsys, "-C", project, "remote", "add", "whole", tmp_path / "nas2")
    whole = run_json(capsys, "-C", project, "push", "whole")
    assert resumed["bytes"] == whole["bytes"] - os.path.getsize(
        Repository.discover(project).store.path(model))

    run_json(capsys, "clone", remote_url[0], tmp_path / "laptop", *remote_url[1])
    theirs = Repository.discover(tmp_path / "laptop")
    assert list(theirs.index.iter_ids()) == [rid]
    theirs.store.check(model)


def test_a_pull_killed_after_the_model_fetches_only_the_rest(
        capsys: pytest.CaptureFixture[str], project: Path, tmp_path: Path,
        remote_url: tuple[str, list[str]], big: tuple[str, str]) -> None:
    rid, model = big
    run(capsys, "-C", project, "remote", "add", "origin", remote_url[0], *remote_url[1])
    run_json(capsys, "-C", project, "push")
    whole = run_json(capsys, "clone", remote_url[0], tmp_path / "whole", *remote_url[1])

    laptop = tmp_path / "laptop"
    assert run(capsys, "init", laptop)[0] == 0
    run(capsys, "-C", laptop, "remote", "add", "origin", remote_url[0], *remote_url[1])
    _killed_at("pull.kept:1", "-C", laptop, "pull")  # the model kept, the rest not
    theirs = Repository.discover(laptop)
    assert model in theirs.store and rid not in theirs.store  # no record before its objects
    assert list(theirs.index.iter_ids()) == []

    resumed = run_json(capsys, "-C", laptop, "pull")
    assert resumed["records"] == [rid] and resumed["large"] == 0
    assert resumed["bytes"] == whole["bytes"] - MODEL_SIZE - _header(theirs, model)
    assert list(Repository.discover(laptop).index.iter_ids()) == [rid]
    for oid in (rid, model):
        Repository.discover(laptop).store.check(oid)


def _header(repo: Repository, model: str) -> int:
    """The safetensors header around the model's payload."""
    return os.path.getsize(repo.store.path(model)) - MODEL_SIZE


def test_a_multipart_upload_killed_midway_resumes_with_the_missing_parts(
        capsys: pytest.CaptureFixture[str], project: Path, tmp_path: Path,
        s3_env: S3Engine) -> None:
    from repro.remote.s3 import MULTIPART_CHUNK

    size = 2 * MULTIPART_CHUNK + (1 << 20)  # three parts
    path = write_safetensors(project / "models/checkpoints/huge.safetensors",
                             model_bytes(11, size))
    out = make_output(project, "huge.png", seed=6, ckpt=path.name, lora=None)
    rid = run_json(capsys, "-C", project, "add", out)["records"][0]["id"]
    bucket = s3_env.new_bucket()
    run(capsys, "-C", project, "remote", "add", "origin", f"s3://{bucket}/studio",
        "--endpoint", s3_env.endpoint)
    _killed_at("s3.part:1", "-C", project, "push")  # killed as the first part arrives

    client = s3_env.client()
    (upload,) = client.list_multipart_uploads(Bucket=bucket)["Uploads"]
    arrived = sum(p["Size"] for p in client.list_parts(
        Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]).get("Parts", []))
    assert 0 < arrived < size
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    assert [o["Key"] for o in listed if "/objects/" in o["Key"]] == []  # not visible yet

    resumed = run_json(capsys, "-C", project, "push")
    (tmp_path / "nas").mkdir()
    run(capsys, "-C", project, "remote", "add", "whole", tmp_path / "nas")
    whole = run_json(capsys, "-C", project, "push", "whole")
    assert resumed["records"] == [rid] and resumed["bytes"] == whole["bytes"] - arrived
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []

    run_json(capsys, "clone", f"s3://{bucket}/studio", tmp_path / "laptop",
             "--endpoint", s3_env.endpoint)
    theirs = Repository.discover(tmp_path / "laptop")
    model = next(m.blake3 for m in theirs.load_record(rid).models if m.name == path.name)
    theirs.store.check(model)


def test_temp_files_a_killed_push_left_on_a_folder_remote_are_swept(tmp_path: Path) -> None:
    from repro.remote.folder import STALE_TEMP, FolderRemote

    (tmp_path / "nas/tmp").mkdir(parents=True)
    old, new = tmp_path / "nas/tmp/tmp-old", tmp_path / "nas/tmp/tmp-new"
    for f in (old, new):
        f.write_bytes(b"half a model")
    os.utime(old, (1, os.path.getmtime(old) - STALE_TEMP - 60))
    FolderRemote(tmp_path / "nas")
    assert not old.exists() and new.exists()  # a live writer's is left alone


def test_a_pull_killed_in_the_middle_of_a_model_continues_it(
        capsys: pytest.CaptureFixture[str], project: Path, tmp_path: Path,
        big: tuple[str, str]) -> None:
    rid, model = big
    (tmp_path / "nas").mkdir()
    run(capsys, "-C", project, "remote", "add", "origin", tmp_path / "nas")
    run_json(capsys, "-C", project, "push")
    whole = run_json(capsys, "clone", tmp_path / "nas", tmp_path / "whole")

    laptop = tmp_path / "laptop"
    assert run(capsys, "init", laptop)[0] == 0
    run(capsys, "-C", laptop, "remote", "add", "origin", tmp_path / "nas")
    _killed_at("remote.chunk:3", "-C", laptop, "pull")  # 3 MiB of the model copied
    part = laptop / ".repro/remotes/origin/partial" / model
    assert part.stat().st_size == 3 << 20
    theirs = Repository.discover(laptop)
    assert model not in theirs.store and rid not in theirs.store

    resumed = run_json(capsys, "-C", laptop, "pull")
    assert resumed["records"] == [rid] and resumed["large"] == 1
    assert resumed["bytes"] == whole["bytes"] - (3 << 20)
    assert not part.exists()
    Repository.discover(laptop).store.check(model)


@pytest.fixture
def s3_pull_killed_midway(capsys: pytest.CaptureFixture[str], project: Path, tmp_path: Path,
                          s3_env: S3Engine) -> tuple[Path, str, str, Path, dict[str, int]]:
    """A model of three ranged pieces pushed to SeaweedFS, and a pull of it killed as
    the first piece is noted: (store, record, model, partial file, the whole clone's
    figures)."""
    from repro.remote.s3_download import PIECE

    path = write_safetensors(project / "models/checkpoints/ranged.safetensors",
                             model_bytes(12, 2 * PIECE + (1 << 20)))
    out = make_output(project, "ranged.png", seed=8, ckpt=path.name, lora=None)
    rid = run_json(capsys, "-C", project, "add", out)["records"][0]["id"]
    url = f"s3://{s3_env.new_bucket()}/studio"
    run(capsys, "-C", project, "remote", "add", "origin", url, "--endpoint", s3_env.endpoint)
    run_json(capsys, "-C", project, "push")
    whole = run_json(capsys, "clone", url, tmp_path / "whole", "--endpoint", s3_env.endpoint)
    model = next(m.blake3 for m in Repository.discover(project).load_record(rid).models
                 if m.name == path.name)

    laptop = tmp_path / "laptop"
    assert run(capsys, "init", laptop)[0] == 0
    run(capsys, "-C", laptop, "remote", "add", "origin", url, "--endpoint", s3_env.endpoint)
    _killed_at("s3.range:1", "-C", laptop, "pull")
    theirs = Repository.discover(laptop)
    assert model not in theirs.store and rid not in theirs.store  # nothing half there
    return laptop, rid, model, laptop / ".repro/remotes/origin/partial" / model, whole


def _noted(part: Path) -> int:
    """The bytes of the pieces a stopped S3 download noted as written."""
    from repro.remote.s3_download import PIECE, note_of

    size = os.path.getsize(part)
    pieces = {int(n) for n in note_of(part).read_text().split()}
    assert 1 <= len(pieces) < -(-size // PIECE)  # some, not all
    return sum(min(size, (n + 1) * PIECE) - n * PIECE for n in pieces)


def test_an_s3_pull_killed_in_the_middle_of_a_model_fetches_only_the_pieces_it_lacks(
        capsys: pytest.CaptureFixture[str],
        s3_pull_killed_midway: tuple[Path, str, str, Path, dict[str, int]]) -> None:
    laptop, rid, model, part, whole = s3_pull_killed_midway
    kept = _noted(part)
    resumed = run_json(capsys, "-C", laptop, "pull")
    assert resumed["records"] == [rid] and resumed["large"] == 1
    assert resumed["bytes"] == whole["bytes"] - kept
    assert not part.exists() and not part.with_name(part.name + ".got").exists()
    Repository.discover(laptop).store.check(model)


def test_an_s3_pull_whose_kept_pieces_were_damaged_fetches_the_model_again(
        capsys: pytest.CaptureFixture[str],
        s3_pull_killed_midway: tuple[Path, str, str, Path, dict[str, int]]) -> None:
    from repro.remote.s3_download import PIECE, note_of

    laptop, rid, model, part, whole = s3_pull_killed_midway
    kept = _noted(part)
    first = int(note_of(part).read_text().split()[0])
    with part.open("r+b") as f:  # a noted piece's bytes changed on the disk
        f.seek(first * PIECE + 10)
        f.write(b"not the model")
    resumed = run_json(capsys, "-C", laptop, "pull")
    size = Repository.discover(laptop).store.size(model)
    # the pieces it lacked, then, the whole failing its check, all of it again
    assert resumed["records"] == [rid]
    assert resumed["bytes"] == whole["bytes"] - kept + size
    Repository.discover(laptop).store.check(model)
