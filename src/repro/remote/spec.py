"""A remote's name and URL, and the keys it may be asked for."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

from repro.errors import UnsafePath, UsageError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_PART = re.compile(r"[A-Za-z0-9._-]{1,200}")


def check_remote_name(name: str) -> str:
    if not _NAME.fullmatch(name) or ".." in name:
        raise UsageError(f"invalid remote name {name!r}",
                         hint="use letters, digits, '.', '_' and '-' (at most 64)")
    return name


def check_key(key: str) -> str:
    """A key inside a remote's prefix: parts of letters, digits, '.', '_', '-';
    no empty part, no '.' or '..' (nothing that could leave the prefix)."""
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") or not _PART.fullmatch(p) for p in parts):
        raise UnsafePath(f"remote key {key!r} would leave the remote's prefix",
                         hint="a remote key is a relative path without '..'")
    return key


@dataclass(frozen=True)
class RemoteSpec:
    """Where a remote is; credentials are never part of it (they come from the
    environment or the AWS configuration files)."""

    name: str
    url: str
    endpoint: str | None = None
    region: str | None = None
    #: move mutable keys under a lock object, not by conditional writes (for an S3
    #: engine that ignores If-Match / If-None-Match instead of refusing them)
    lock_object: bool = False

    @property
    def kind(self) -> str:
        return "s3" if self.url.startswith("s3://") else "folder"

    def bucket_prefix(self) -> tuple[str, str]:
        parsed = urlparse(self.url)
        prefix = parsed.path.strip("/")
        if prefix:
            check_key(prefix)
        return parsed.netloc, prefix

    def folder(self) -> str:
        if self.url.startswith("file://"):
            return unquote(urlparse(self.url).path)
        return self.url

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "url": self.url}
        if self.endpoint:
            d["endpoint"] = self.endpoint
        if self.region:
            d["region"] = self.region
        if self.lock_object:
            d["cas"] = "lock-object"
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RemoteSpec:
        return cls(str(data["name"]), str(data["url"]), data.get("endpoint"), data.get("region"),
                   data.get("cas") == "lock-object")


def parse_url(name: str, url: str, *, endpoint: str | None = None,
              region: str | None = None, lock_object: bool = False) -> RemoteSpec:
    """Check a remote's name and URL: ``s3://bucket[/prefix]``, ``file:///path`` or a path."""
    check_remote_name(name)
    if "://" in url and not url.startswith(("s3://", "file://")):
        raise UsageError(f"unsupported remote URL {url!r}",
                         hint="use s3://bucket/prefix, file:///path or a folder path")
    if "\x00" in url or ".." in url.replace("\\", "/").split("/"):
        raise UnsafePath(f"remote URL {url!r} contains '..'", hint="give the folder without '..'")
    spec = RemoteSpec(name, url, endpoint, region, lock_object)
    if lock_object and spec.kind != "s3":
        raise UsageError("--lock-object is for S3 remotes",
                         hint="a folder remote always moves keys under a lock file")
    if spec.kind == "s3":
        bucket, _ = spec.bucket_prefix()
        if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
            raise UsageError(f"invalid bucket name {bucket!r} in {url}",
                             hint="s3://bucket/prefix, the bucket 3-63 lower-case letters")
    elif not spec.folder():
        raise UsageError("empty remote folder", hint="repro remote add NAS /mnt/nas/repro")
    return spec
