"""A large file to S3 as a multipart upload that a later run resumes.

boto3's managed ``upload_file`` starts over when it is run again. Here the parts
go up in parallel through the same client, and an upload that was stopped
(process killed, endpoint gone) stays open on the engine, invisible: the object
appears only when the upload is completed. The next ``put`` of the same key
finds it (``ListMultipartUploads``), asks which parts arrived (``ListParts``),
and sends only the others. A part is reused only when its size and ETag (the
MD5 of its bytes, for a plain upload) match the local chunk; keys here are
content hashes, so the bytes should be the same, and anyway every byte pulled
is checked against its BLAKE3.

An upload nobody resumes holds its parts' space forever: ``unfinished`` lists
them with the time since their last part arrived, and ``repro remote check
--repair`` aborts those idle longer than a threshold (a day by default: a push
resuming one sends parts, so an upload in use is never that idle) and those whose
object another push has sent whole since. Should an
upload be aborted just as a push resumes it, the push starts the file again
(``UploadGone``): time lost, nothing else.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from repro.errors import RemoteError
from repro.objects.faults import checkpoint

Call = Callable[..., Any]


class UploadGone(RemoteError):
    """The multipart upload was aborted while it was in use (``NoSuchUpload``)."""


def put(call: Call, key: str, src: Path, *, chunk: int, threads: int) -> int:
    """Upload ``src`` to ``key`` (the full key) through ``call(op, **kw)``; returns the
    bytes sent, which is less than the file's size when an upload is resumed. An upload
    aborted under it (a stale-upload sweep) is started again, once."""
    try:
        return _put(call, key, src, chunk=chunk, threads=threads)
    except UploadGone:
        return _put(call, key, src, chunk=chunk, threads=threads)


def _put(call: Call, key: str, src: Path, *, chunk: int, threads: int) -> int:
    size = src.stat().st_size
    count = max(1, -(-size // chunk))
    upload_id, arrived = _open_upload(call, key)
    with open(src, "rb") as f:
        fd = f.fileno()

        def read(n: int) -> bytes:
            return os.pread(fd, min(chunk, size - (n - 1) * chunk), (n - 1) * chunk)

        kept = {n: etag for n, (etag, got_size) in arrived.items()
                if n <= count and got_size == min(chunk, size - (n - 1) * chunk)
                and etag.strip('"') == hashlib.md5(read(n), usedforsecurity=False).hexdigest()}

        def send(n: int) -> tuple[int, str, int]:
            data = read(n)
            reply = call("upload_part", Key=key, UploadId=upload_id, PartNumber=n, Body=data)
            checkpoint("s3.part")
            return n, str(reply["ETag"]), len(data)

        with ThreadPoolExecutor(threads) as pool:
            sent = list(pool.map(send, [n for n in range(1, count + 1) if n not in kept]))
    etags = {**kept, **{n: etag for n, etag, _ in sent}}
    call("complete_multipart_upload", Key=key, UploadId=upload_id,
         MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etags[n]} for n in sorted(etags)]})
    return sum(n_bytes for _, _, n_bytes in sent)


def _open_upload(call: Call, key: str) -> tuple[str, dict[int, tuple[str, int]]]:
    """The newest unfinished upload of ``key`` and its parts, or a new upload."""
    uploads = call("list_multipart_uploads", Prefix=key).get("Uploads", [])
    mine = sorted((u for u in uploads if u.get("Key") == key), key=lambda u: u.get("Initiated"))
    if not mine:
        return str(call("create_multipart_upload", Key=key)["UploadId"]), {}
    upload_id = str(mine[-1]["UploadId"])
    return upload_id, {int(part["PartNumber"]): (str(part["ETag"]), int(part["Size"]))
                       for part in _parts(call, key, upload_id)}


def unfinished(call: Call, prefix: str) -> list[tuple[str, str, int, float]]:
    """Every multipart upload under ``prefix``: (key, upload id, bytes held, seconds
    since its last part arrived, or since it was started when none did)."""
    found = []
    markers: dict[str, str] = {}
    while True:
        reply = call("list_multipart_uploads", Prefix=prefix, **markers)
        for upload in reply.get("Uploads", []):
            key, upload_id = str(upload["Key"]), str(upload["UploadId"])
            last, held = upload["Initiated"], 0
            for part in _parts(call, key, upload_id):
                held += int(part["Size"])
                last = max(last, part.get("LastModified", last))
            found.append((key, upload_id, held, time.time() - last.timestamp()))
        if not reply.get("IsTruncated"):
            return found
        markers = {"KeyMarker": reply["NextKeyMarker"],
                   "UploadIdMarker": reply["NextUploadIdMarker"]}


def _parts(call: Call, key: str, upload_id: str) -> Iterator[dict[str, Any]]:
    """The parts that arrived for an upload (none when it is gone meanwhile)."""
    marker = 0
    while True:
        try:
            reply = call("list_parts", Key=key, UploadId=upload_id, PartNumberMarker=marker)
        except UploadGone:
            return  # finished or aborted since it was listed
        yield from reply.get("Parts", [])
        if not reply.get("IsTruncated"):
            return
        marker = int(reply["NextPartNumberMarker"])


def abort(call: Call, key: str, upload_id: str) -> None:
    with contextlib.suppress(UploadGone):
        call("abort_multipart_upload", Key=key, UploadId=upload_id)
