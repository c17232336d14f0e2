"""``repro remote``: name remotes (an S3 bucket and prefix, or a folder) and open them.

Remotes live in ``.repro/remotes.json``: name, URL, endpoint and region, never
credentials (boto3 finds those in the environment or the AWS files). Per remote,
``.repro/remotes/NAME/`` holds the local copy of the remote's index
(``index.sqlite``, see ``repro.remote.index_cache``) and the tags as last seen
there (what a push may move without asking).
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from repro.api.repository import Repository
from repro.errors import IntegrityError, NotFound, RemoteIndexDamaged, UsageError
from repro.objects.atomic import write_bytes
from repro.remote.base import Remote
from repro.remote.check import STALE_UPLOAD, IndexCheck, check
from repro.remote.check import repair as repair_index
from repro.remote.index_cache import IndexCache
from repro.remote.spec import RemoteSpec, check_remote_name, parse_url


def _path(repo: Repository) -> Path:
    return repo.dot / "remotes.json"


def list_remotes(repo: Repository) -> list[RemoteSpec]:
    try:
        data = orjson.loads(_path(repo).read_bytes())
        return [RemoteSpec.from_dict({"name": k, **v}) for k, v in sorted(data.items())]
    except FileNotFoundError:
        return []
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError):
        raise IntegrityError(f"{_path(repo)} is damaged",
                             hint="fix or delete it, then `repro remote add` again") from None


def _save(repo: Repository, specs: list[RemoteSpec]) -> None:
    data = {s.name: {k: v for k, v in s.to_dict().items() if k != "name"} for s in specs}
    write_bytes(_path(repo), orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS),
                tmp_dir=repo.tmp_dir)


def remote_spec(name: str, url: str, *, endpoint: str | None = None,
                region: str | None = None, lock_object: bool = False) -> RemoteSpec:
    """A checked remote spec; a plain folder path is made absolute, as every machine
    mounts it."""
    if "://" not in url:
        url = str(Path(url).expanduser().absolute())
    return parse_url(name, url, endpoint=endpoint, region=region, lock_object=lock_object)


def add_remote(repo: Repository, name: str, url: str, *, endpoint: str | None = None,
               region: str | None = None, lock_object: bool = False) -> RemoteSpec:
    spec = remote_spec(name, url, endpoint=endpoint, region=region, lock_object=lock_object)
    specs = list_remotes(repo)
    if any(s.name == name for s in specs):
        raise UsageError(f"remote {name!r} exists", hint=f"repro remote remove {name} first")
    _save(repo, [*specs, spec])
    return spec


def remove_remote(repo: Repository, name: str) -> RemoteSpec:
    check_remote_name(name)
    specs = list_remotes(repo)
    gone = [s for s in specs if s.name == name]
    if not gone:
        raise NotFound(f"no remote {name!r}", hint="repro remote list")
    _save(repo, [s for s in specs if s.name != name])
    shutil.rmtree(cache_dir(repo, name), ignore_errors=True)
    return gone[0]


def get_remote(repo: Repository, name: str | None) -> RemoteSpec:
    """The remote ``name``; without a name the only one, or ``origin``."""
    specs = list_remotes(repo)
    if name is None:
        if len(specs) == 1:
            return specs[0]
        name = "origin"
    check_remote_name(name)
    for s in specs:
        if s.name == name:
            return s
    raise NotFound(f"no remote {name!r}" if specs else "no remote is set up",
                   hint="repro remote add NAME URL")


def open_remote(spec: RemoteSpec) -> Remote:
    if spec.kind == "s3":
        try:
            from repro.remote.s3 import S3Remote
        except ImportError:
            raise UsageError("S3 remotes need boto3",
                             hint="pip install 'repro[s3]'") from None
        return S3Remote(spec)
    from repro.remote.folder import FolderRemote

    return FolderRemote(spec.folder())


def cache_dir(repo: Repository, name: str) -> Path:
    return repo.dot / "remotes" / check_remote_name(name)


def index_path(repo: Repository, name: str) -> Path:
    """The local copy of the remote's index (SQLite; a cache, rebuilt when deleted)."""
    return cache_dir(repo, name) / "index.sqlite"


def local_index(repo: Repository, name: str) -> IndexCache | None:
    """The local copy of the remote's index as of the last push, pull or clone that
    read it (None: never read); the remote is not asked."""
    path = index_path(repo, name)
    return IndexCache(path) if path.exists() else None


def check_remote(repo: Repository, name: str | None, *, repair: bool = False,
                 stale_after: float = STALE_UPLOAD) -> IndexCheck:
    """Every segment of the remote's index read and checked against its hash, every pack
    and large object it names asked for, the unfinished uploads listed; with ``repair``,
    a new HEAD without what cannot be used (no object deleted), and the uploads idle
    over ``stale_after`` seconds aborted."""
    spec = get_remote(repo, name)
    remote = open_remote(spec)
    found = check(remote, stale_after=stale_after)
    if repair:
        repair_index(remote, found)
    return found


@contextlib.contextmanager
def named_remote(name: str) -> Iterator[None]:
    """Name the remote in the hint of a damaged-index error (the remote layer
    knows its URL, not the name the user gave it)."""
    try:
        yield
    except RemoteIndexDamaged as exc:
        exc.hint = (exc.hint or "").replace("NAME", name)
        raise


def seen_tags(repo: Repository, name: str) -> dict[str, str]:
    try:
        data: Any = orjson.loads((cache_dir(repo, name) / "tags.json").read_bytes())
        return {str(k): str(v) for k, v in data.items()}
    except (FileNotFoundError, orjson.JSONDecodeError, AttributeError):
        return {}


def save_seen_tags(repo: Repository, name: str, seen: dict[str, str]) -> None:
    folder = cache_dir(repo, name)
    folder.mkdir(parents=True, exist_ok=True)
    write_bytes(folder / "tags.json", orjson.dumps(seen, option=orjson.OPT_SORT_KEYS),
                tmp_dir=repo.tmp_dir)
