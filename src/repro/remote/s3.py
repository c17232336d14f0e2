"""A remote in an S3-compatible bucket, through boto3.

Credentials come from boto3's usual chain (``AWS_ACCESS_KEY_ID``..., the AWS
configuration files, ``AWS_PROFILE``); ``AWS_ENDPOINT_URL`` is honoured by
boto3 itself; the endpoint and region of ``repro remote add`` win over it.

Create-if-absent is ``PutObject`` with ``If-None-Match: *``; a compare-and-swap
is ``PutObject`` with ``If-Match: <etag>`` (AWS S3 since 2024, SeaweedFS, MinIO).
An engine that answers ``NotImplemented`` to a conditional write falls back to a
lock object beside the key: best effort, since without conditional writes no
lock on S3 is race-free; ``cas_method`` says which is in use.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from repro.errors import NotFound, RemoteError
from repro.remote import s3_download, s3_multipart
from repro.remote.base import CasConflict, Readable, Unfinished, Version
from repro.remote.spec import RemoteSpec, check_key

MULTIPART_CHUNK = 64 * 1024 * 1024
LOCK_OBJECT = "lock object (no conditional writes: best effort)"
CONCURRENCY = 8
#: Requests that store bytes (an engine failing one may be out of space).
WRITES = frozenset({"put_object", "upload_part", "create_multipart_upload",
                    "complete_multipart_upload"})
#: Error codes engines give when a bucket or disk is full (Ceph, MinIO, the 507 status).
FULL = frozenset({"QuotaExceeded", "XMinioStorageFull", "XMinioAdminBucketQuotaExceeded",
                  "InsufficientStorage", "StorageFull"})


class S3Remote:
    cas_method = "conditional writes (If-None-Match / If-Match)"

    def __init__(self, spec: RemoteSpec, *, client: Any = None):
        import boto3
        from botocore.config import Config

        self.bucket, self.prefix = spec.bucket_prefix()
        self.where = spec.url
        # a session of its own: boto3's default one caches the credentials it first found
        self.client = client or boto3.session.Session().client(
            "s3", endpoint_url=spec.endpoint or None, region_name=spec.region or None,
            config=Config(connect_timeout=5, read_timeout=60,
                          retries={"max_attempts": 2, "mode": "standard"},
                          s3={"addressing_style": "path"}))
        self.conditional = not spec.lock_object
        if spec.lock_object:
            self.cas_method = LOCK_OBJECT

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, op: str, **kw: Any) -> Any:
        """One request; its failures as repro errors (NotFound for a missing key)."""
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
        )

        try:
            return getattr(self.client, op)(Bucket=self.bucket, **kw)
        except ClientError as exc:
            raise self._translate(exc, kw.get("Key", ""), writing=op in WRITES) from None
        except NoCredentialsError:
            raise RemoteError(f"no AWS credentials for {self.where}",
                              hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a "
                                   "profile in ~/.aws/credentials") from None
        except EndpointConnectionError as exc:
            raise RemoteError(f"the S3 endpoint of {self.where} does not answer "
                              f"({exc.kwargs.get('endpoint_url', '')})",
                              hint="is the endpoint up? check --endpoint or "
                                   "AWS_ENDPOINT_URL") from None
        except BotoCoreError as exc:
            raise RemoteError(f"S3 request to {self.where} failed: {exc}") from None

    def _translate(self, exc: Any, key: str, *, writing: bool = False) -> Exception:
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("NoSuchKey", "404", "NotFound") and code != "NoSuchBucket":
            return NotFound(f"{key} is not on the remote {self.where}")
        if code == "NoSuchBucket":
            return RemoteError(f"the bucket {self.bucket} does not exist ({self.where})",
                               hint="create it first, or check the remote's URL and endpoint")
        if code == "NoSuchUpload":
            return s3_multipart.UploadGone(f"the multipart upload of {key} is gone "
                                           "(aborted, or completed by another push)")
        if code in ("PreconditionFailed", "412", "ConditionalRequestConflict") or status == 412:
            return CasConflict(f"{key} on the remote changed meanwhile")
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403"):
            return RemoteError(f"the S3 endpoint refused the credentials for {self.where} ({code})",
                               hint="check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or "
                                    "AWS_PROFILE")
        if code in FULL or status == 507:
            return RemoteError(f"the remote {self.where} is full ({code or status})",
                               hint="free space on the engine or raise the bucket's quota, "
                                    "then push again: what was sent is kept there and not "
                                    "sent again")
        if writing and isinstance(status, int) and status >= 500:
            return RemoteError(f"the S3 engine of {self.where} could not store {key} "
                               f"({code or status}: {err.get('Message', '')})",
                               hint="it may be out of space or failing (its log says which): "
                                    "push again once it is well; what was sent is kept there "
                                    "and not sent again")
        return RemoteError(f"S3 {code or status} for {key or self.bucket} on {self.where}: "
                           f"{err.get('Message', '')}")

    def exists(self, key: str) -> bool:
        try:
            self._call("head_object", Key=self._key(key))
        except NotFound:
            return False
        return True

    def get(self, key: str) -> bytes:
        body = self._call("get_object", Key=self._key(key))["Body"]
        try:
            return bytes(body.read())
        finally:
            body.close()

    @contextlib.contextmanager
    def stream(self, key: str, start: int = 0, end: int | None = None) -> Iterator[Readable]:
        ranged = {} if start == 0 and end is None else {
            "Range": f"bytes={start}-{'' if end is None else end - 1}"}
        body = self._call("get_object", Key=self._key(key), **ranged)["Body"]
        with self._reading(), body:
            yield body

    def get_file(self, key: str, dest: Path, size: int) -> int:
        """Ranged GETs side by side, each piece noted as it lands, so that a stopped
        download continues with the pieces it lacks (``s3_download``)."""
        with self._reading():
            return s3_download.get(self._call, self._key(key), dest, size, threads=CONCURRENCY)

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """A response that breaks off while it is read, as one clear error."""
        from botocore.exceptions import BotoCoreError

        try:
            yield
        except BotoCoreError as exc:
            raise RemoteError(f"the S3 endpoint of {self.where} stopped mid-transfer ({exc})",
                              hint="check the endpoint, then pull again: what arrived "
                                   "is kept") from None

    def put_if_absent(self, key: str, data: bytes) -> bool:
        if self.conditional:
            try:
                self._call("put_object", Key=self._key(key), Body=data, IfNoneMatch="*")
                return True
            except CasConflict:
                return False
            except RemoteError as exc:
                if "NotImplemented" not in str(exc):
                    raise
                self.conditional = False
                self.cas_method = LOCK_OBJECT
        if self.exists(key):
            return False
        self._call("put_object", Key=self._key(key), Body=data)
        return True

    def put_file(self, key: str, src: Path) -> int:
        """Multipart upload in parallel, resumed where a stopped one left off
        (``s3_multipart``); S3 shows the object only once it is complete."""
        if self.exists(key):
            return 0
        size = src.stat().st_size
        if size <= MULTIPART_CHUNK:
            with src.open("rb") as f:
                self._call("put_object", Key=self._key(key), Body=f)
            return size
        return s3_multipart.put(self._call, self._key(key), src, chunk=MULTIPART_CHUNK,
                                threads=CONCURRENCY)

    def delete(self, key: str) -> None:
        self._call("delete_object", Key=self._key(key))  # S3: no error when it is absent

    def unfinished(self) -> list[Unfinished]:
        """The multipart uploads under this remote's prefix (another prefix in the same
        bucket is someone else's)."""
        return [Unfinished(key[len(self._under):], upload, size, idle)
                for key, upload, size, idle in s3_multipart.unfinished(self._call, self._under)]

    def abort(self, upload: Unfinished) -> None:
        s3_multipart.abort(self._call, self._under + upload.key, upload.upload)

    @property
    def _under(self) -> str:
        """What every key of this remote starts with."""
        return f"{self.prefix}/" if self.prefix else ""

    def read_versioned(self, key: str) -> tuple[bytes, Version] | None:
        try:
            reply = self._call("get_object", Key=self._key(key))
        except NotFound:
            return None
        with reply["Body"] as body:
            return bytes(body.read()), Version(reply["ETag"])

    def replace(self, key: str, data: bytes, expected: Version | None) -> Version:
        cond = {"IfMatch": expected} if expected is not None else {"IfNoneMatch": "*"}
        if self.conditional:
            try:
                return Version(self._call("put_object", Key=self._key(key), Body=data,
                                          **cond)["ETag"])
            except RemoteError as exc:
                if isinstance(exc, CasConflict) or "NotImplemented" not in str(exc):
                    raise
                self.conditional = False
                self.cas_method = LOCK_OBJECT
        return self._replace_locked(key, data, expected)

    def _replace_locked(self, key: str, data: bytes, expected: Version | None) -> Version:
        lock = key + ".lock"
        token = uuid.uuid4().hex.encode()
        if self.exists(lock):
            raise CasConflict(f"{key} on the remote is being changed (lock object {lock})")
        self._call("put_object", Key=self._key(lock), Body=token)
        time.sleep(0.05)  # let a racing writer's lock land, then see whose it is
        try:
            if self.get(lock) != token:
                raise CasConflict(f"{key} on the remote is being changed by someone else")
            current = self.read_versioned(key)
            if (current[1] if current else None) != expected:
                raise CasConflict(f"{key} on the remote changed meanwhile")
            if self.get(lock) != token:  # taken over while we read: narrows the window
                raise CasConflict(f"{key} on the remote is being changed by someone else")
            return Version(self._call("put_object", Key=self._key(key), Body=data)["ETag"])
        finally:
            with contextlib.suppress(NotFound):
                if self.get(lock) == token:
                    self._call("delete_object", Key=self._key(lock))
