"""The git state of a tool install or custom node, read with dulwich.

Never shells out to git (it may not be installed, and a repository's config
could make it run hooks or filters) and never writes to the repository: the
index stat cache is not refreshed, unlike ``git status``.

The dirty check is bounded so that a huge work tree cannot stall a capture:
at most ``max_stat`` tracked files are stat'ed and at most ``max_walk``
directory entries are visited looking for untracked files; it stops at the
first change found. When a bound is hit before any change was found, whether
the tree is dirty is unknown: ``dirty`` is left out and ``dirty_check`` says
``"truncated"``.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dulwich.errors import (
    ApplyDeltaError,
    ChecksumMismatch,
    FileFormatException,
    NoIndexPresent,
    NotGitRepository,
    ObjectMissing,
    WrongObjectException,
)
from dulwich.ignore import IgnoreFilterManager
from dulwich.index import get_unstaged_changes
from dulwich.objects import Commit, ObjectID, Tag
from dulwich.refs import Ref
from dulwich.repo import Repo

#: Tracked files stat'ed at most by the dirty check.
MAX_STAT = 50_000
#: Directory entries visited at most looking for untracked files.
MAX_WALK = 50_000
#: Commits walked at most by ``describe`` looking for a tag.
MAX_DESCRIBE = 2_000

# What a damaged repository makes dulwich raise; the state is then partly unknown.
_DAMAGE = (OSError, KeyError, ValueError, struct.error, FileFormatException, ChecksumMismatch,
           ObjectMissing, ApplyDeltaError, WrongObjectException)

_HEAD = Ref(b"HEAD")
_TAGS = Ref(b"refs/tags")


def _open(path: Path, search_parents: bool) -> Repo | None:
    try:
        if search_parents:
            return Repo.discover(str(path))
        return Repo(str(path))
    except (NotGitRepository, OSError, ValueError, KeyError):
        return None


def _head(repo: Repo) -> tuple[str | None, str | None]:
    """(branch name or None when detached, commit sha or None when unborn)."""
    branch: str | None = None
    target = repo.refs.read_ref(_HEAD)
    if target is not None and target.startswith(b"ref: "):
        ref = target[5:].strip()
        if ref.startswith(b"refs/heads/"):
            branch = ref[len(b"refs/heads/"):].decode("utf-8", "replace")
    try:
        sha = repo.refs[_HEAD]
    except KeyError:
        return branch, None
    return branch, sha.decode("ascii")


def _tag_commits(repo: Repo) -> dict[str, str]:
    """Each tag's name -> the commit it points to (a tag whose object is missing is left out)."""
    commits: dict[str, str] = {}
    for ref in repo.refs.as_dict(_TAGS):
        full = Ref(_TAGS + b"/" + ref)
        try:
            obj = repo[repo.refs.get_peeled(full) or repo.refs[full]]
            # Annotated tags (possibly of tags) point through to the commit.
            for _ in range(10):
                if not isinstance(obj, Tag):
                    break
                obj = repo[obj.object[1]]
        except KeyError:
            continue
        commits[ref.decode("utf-8", "replace")] = obj.id.decode("ascii")
    return commits


def _tags_at(repo: Repo, sha: str) -> list[str]:
    return sorted(name for name, commit in _tag_commits(repo).items() if commit == sha)


def _remote_url(repo: Repo, name: bytes = b"origin") -> str | None:
    try:
        url = repo.get_config().get((b"remote", name), b"url")
    except KeyError:
        return None
    return url.decode("utf-8", "replace") if url else None


def _first_untracked(repo: Repo, tracked: set[bytes], max_walk: int) -> tuple[bool | None, int]:
    """(True if an untracked non-ignored file exists, False if none, None if truncated)."""
    root = repo.path
    ignores = IgnoreFilterManager.from_repo(repo)
    visited = 0
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        try:
            # Iterated lazily, so a folder of a million files costs max_walk entries.
            it = os.scandir(os.path.join(root, rel_dir))
        except OSError:
            continue
        with it:
            found = _scan(it, rel_dir, tracked, ignores, stack, max_walk - visited)
        visited += found[1]
        if found[0] is not False:
            return found[0], visited
    return False, visited


def _scan(it: Iterator[os.DirEntry[str]], rel_dir: str, tracked: set[bytes],
          ignores: IgnoreFilterManager, stack: list[str],
          budget: int) -> tuple[bool | None, int]:
    """Look through one folder: (True: untracked file, None: budget spent, False), entries seen."""
    visited = 0
    for entry in it:
        visited += 1
        if visited > budget:
            return None, visited
        rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
        if not rel_dir and entry.name == ".git":
            continue
        rel_b = os.fsencode(rel)
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            continue
        if is_dir:
            if rel_b in tracked:  # a submodule (gitlink entry)
                continue
            if ignores.may_prune_directory(rel + "/"):
                continue
            stack.append(rel)
        elif rel_b not in tracked and ignores.is_ignored(rel) is not True:
            return True, visited
    return False, visited


def _dirty(repo: Repo, max_stat: int, max_walk: int) -> tuple[bool | None, str]:
    """(dirty, how it was decided); dirty None when the bounds were hit first."""
    try:
        index = repo.open_index()
    except NoIndexPresent:
        index = None
    tree_id = None
    try:
        head = repo[b"HEAD"]
        if isinstance(head, Commit):
            tree_id = head.tree
    except KeyError:
        pass
    names: list[bytes] = list(index) if index is not None else []
    if index is not None:
        for _change in index.changes_from_tree(repo.object_store, tree_id):
            return True, "staged"
        normalizer = repo.get_blob_normalizer()
        callback = normalizer.checkin_normalize if normalizer is not None else None
        for _path in get_unstaged_changes(index, repo.path, callback, max_stat=max_stat):
            return True, "modified"
    elif tree_id is not None:
        # HEAD has files but there is no index: every file looks deleted to git.
        return True, "no index"
    untracked, _visited = _first_untracked(repo, set(names), max_walk)
    if untracked:
        return True, "untracked"
    if untracked is None or len(names) > max_stat:
        return None, "truncated"
    return False, "complete"


def git_state(
    path: str | os.PathLike[str],
    *,
    search_parents: bool = True,
    max_stat: int = MAX_STAT,
    max_walk: int = MAX_WALK,
) -> dict[str, Any] | None:
    """The git state of the work tree containing ``path``.

    Returns ``{"root", "commit", "branch", "dirty"?, "dirty_check", "remote"?,
    "tag"?, "tags"?}``: ``commit`` is the HEAD sha (None in a repository with
    no commits), ``branch`` None when HEAD is detached, ``dirty`` True when
    tracked files are staged or modified or an untracked non-ignored file
    exists, ``remote`` the url of ``origin``, ``tag`` a tag pointing at HEAD
    (``tags`` lists them all when there are several). ``dirty_check`` says
    what decided ``dirty`` (``"staged"``, ``"modified"``, ``"untracked"``,
    ``"complete"``) or ``"truncated"`` when the bounds were hit first and
    ``dirty`` is unknown (``"error"`` when the repository is damaged). Returns None when ``path`` is not in a git work
    tree (with ``search_parents=False``: when ``path`` itself is not the top
    of one, so a plain folder inside another repository is not mistaken for it).
    """
    repo = _open(Path(path), search_parents)
    if repo is None:
        return None
    with repo:
        if repo.bare:
            return None
        branch, sha = _head(repo)
        state: dict[str, Any] = {"root": os.fsdecode(repo.path), "commit": sha, "branch": branch}
        try:
            dirty, how = _dirty(repo, max_stat, max_walk)
        except _DAMAGE:
            dirty, how = None, "error"
        if dirty is not None:
            state["dirty"] = dirty
        state["dirty_check"] = how
        remote = _remote_url(repo)
        if remote:
            state["remote"] = remote
        if sha is not None:
            try:
                tags = _tags_at(repo, sha)
            except _DAMAGE:
                tags = []
            if tags:
                state["tag"] = tags[-1]
                if len(tags) > 1:
                    state["tags"] = tags
        return state


def describe(
    path: str | os.PathLike[str],
    *,
    search_parents: bool = True,
    max_commits: int = MAX_DESCRIBE,
) -> str | None:
    """A ``git describe --tags``-like name of HEAD: ``v1.10.1`` or ``v1.10.1-5-g82a973c``.

    Walks at most ``max_commits`` commits back from HEAD (newest first) to the
    first tagged one. Without a tag within reach, returns the 7-hex commit
    prefix (``82a973c``, not ``g``-prefixed: A1111 writes that when it has no
    tag). None when there is no repository or no commit. The count is of
    commits walked in date order, which matches git for linear history.
    """
    repo = _open(Path(path), search_parents)
    if repo is None:
        return None
    with repo:
        _branch, sha = _head(repo)
        if sha is None:
            return None
        try:
            by_commit: dict[str, list[str]] = {}
            for name, commit in _tag_commits(repo).items():
                by_commit.setdefault(commit, []).append(name)
            if by_commit:
                walker = repo.get_walker(include=[ObjectID(sha.encode("ascii"))],
                                         max_entries=max_commits)
                for distance, entry in enumerate(walker):
                    names = by_commit.get(entry.commit.id.decode("ascii"))
                    if names:
                        tag = sorted(names)[-1]
                        return tag if distance == 0 else f"{tag}-{distance}-g{sha[:7]}"
        except _DAMAGE:
            pass  # a damaged tag or history: fall back to the commit prefix
        return sha[:7]
