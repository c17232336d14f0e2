"""Uploads a push started and never finished: `repro remote check` lists them (S3
multipart uploads on SeaweedFS, a folder remote's temp files), `--repair` aborts
those idle over `--stale-hours` and no other (not another prefix's), and a push
whose upload is aborted under it starts that file again and completes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from repro.api.remote import remote_spec
from repro.objects.hashing import hash_bytes
from repro.remote import s3_multipart
from repro.remote.index import object_key
from repro.remote.s3 import S3Remote
from tests.helpers import make_output, run, run_json
from tests.remote.conftest import S3Engine

MiB = 1 << 20


def _started(client: Any, bucket: str, key: str, part: bytes) -> str:
    """A multipart upload as a killed push leaves it: started, one part sent."""
    upload = str(client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"])
    client.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=part)
    return upload


def test_check_lists_unfinished_uploads_and_repair_aborts_the_stale_ones(
        capsys: pytest.CaptureFixture[str], project: Path, s3_env: S3Engine) -> None:
    bucket = s3_env.new_bucket()
    client = s3_env.client()
    ours = f"studio/{object_key('a' * 64)}"
    _started(client, bucket, ours, os.urandom(MiB))
    theirs = _started(client, bucket, f"other/{object_key('b' * 64)}", os.urandom(MiB))
    run(capsys, "-C", project, "remote", "add", "origin", f"s3://{bucket}/studio",
        "--endpoint", s3_env.endpoint)

    found = run_json(capsys, "-C", project, "remote", "check")
    (upload,) = found["uploads"]  # not the other prefix's
    assert upload["key"] == object_key("a" * 64) and upload["bytes"] == MiB
    assert not upload["stale"] and found["ok"]
    code, out, _ = run(capsys, "-C", project, "remote", "check")
    assert code == 0 and ("1 unfinished uploads (1.0 MB), 0 stale: idle over 24 h or their "
                          "object sent whole since") in out

    kept = run_json(capsys, "-C", project, "remote", "check", "--repair")
    assert kept["aborted"] == 0  # idle for seconds, not a day: a push may resume it
    assert len(client.list_multipart_uploads(Bucket=bucket)["Uploads"]) == 2

    code, out, _ = run(capsys, "-C", project, "remote", "check", "--repair",
                       "--stale-hours", "0")
    assert code == 0 and "aborted 1 unfinished uploads idle over 0 h" in out
    assert out.rstrip().endswith("(1.0 MB freed)")
    left = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [u["UploadId"] for u in left] == [theirs]
    assert run_json(capsys, "-C", project, "remote", "check")["uploads"] == []

    path = make_output(project, "a.png", seed=3)  # the remote still takes pushes
    rid = run_json(capsys, "-C", project, "add", path)["records"][0]["id"]
    assert run_json(capsys, "-C", project, "push")["records"] == [rid]


def test_an_upload_whose_object_was_sent_whole_since_is_stale_at_once(
        capsys: pytest.CaptureFixture[str], project: Path, s3_env: S3Engine) -> None:
    bucket = s3_env.new_bucket()
    client = s3_env.client()
    model = os.urandom(MiB)
    key = object_key(hash_bytes(model))
    _started(client, bucket, f"studio/{key}", model[:MiB // 2])  # a push killed midway
    client.put_object(Bucket=bucket, Key=f"studio/{key}", Body=model)  # another sent it all
    run(capsys, "-C", project, "remote", "add", "origin", f"s3://{bucket}/studio",
        "--endpoint", s3_env.endpoint)
    (upload,) = run_json(capsys, "-C", project, "remote", "check")["uploads"]
    assert upload["superseded"] and upload["stale"]
    assert run_json(capsys, "-C", project, "remote", "check", "--repair")["aborted"] == 1
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert client.get_object(Bucket=bucket, Key=f"studio/{key}")["Body"].read() == model


def test_a_push_whose_upload_is_aborted_under_it_starts_the_file_again(
        s3_env: S3Engine, tmp_path: Path) -> None:
    bucket = s3_env.new_bucket()
    remote = S3Remote(remote_spec("origin", f"s3://{bucket}/studio", endpoint=s3_env.endpoint))
    chunk = 5 * MiB
    data = os.urandom(2 * chunk + MiB)
    src = tmp_path / "model"
    src.write_bytes(data)
    key = f"studio/{object_key(hash_bytes(data))}"
    upload = _started(s3_env.client(), bucket, key, data[:chunk])
    aborted = []

    def call(op: str, **kw: Any) -> Any:
        reply = remote._call(op, **kw)
        if op == "list_parts" and not aborted:  # a sweep aborts it as the push resumes it
            s3_env.client().abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)
            aborted.append(upload)
        return reply

    sent = s3_multipart.put(call, key, src, chunk=chunk, threads=2)
    assert aborted and sent == len(data)  # every part again, in a new upload
    assert remote.get(object_key(hash_bytes(data))) == data
    assert s3_env.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_a_folder_remotes_temp_files_are_listed_and_aborted(
        capsys: pytest.CaptureFixture[str], project: Path, tmp_path: Path) -> None:
    nas = tmp_path / "nas"
    (nas / "tmp").mkdir(parents=True)
    (nas / "tmp" / "tmp-half-a-model").write_bytes(b"\0" * 1000)
    run(capsys, "-C", project, "remote", "add", "origin", nas)
    (upload,) = run_json(capsys, "-C", project, "remote", "check")["uploads"]
    assert upload["upload"] == "tmp-half-a-model" and upload["bytes"] == 1000
    assert run_json(capsys, "-C", project, "remote", "check", "--repair")["aborted"] == 0
    assert run_json(capsys, "-C", project, "remote", "check", "--repair",
                    "--stale-hours", "0")["aborted"] == 1
    assert list((nas / "tmp").iterdir()) == []
