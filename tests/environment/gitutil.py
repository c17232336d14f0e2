"""Builders of real git repositories with dulwich, for the environment tests."""

from __future__ import annotations

from pathlib import Path

from dulwich import porcelain
from dulwich.repo import Repo

AUTHOR = b"Test <test@example.com>"


def make_repo(path: Path, files: dict[str, str] | None = None, *, message: str = "init") -> str:
    """A repository at ``path`` with ``files`` committed; returns the commit sha."""
    path.mkdir(parents=True, exist_ok=True)
    porcelain.init(str(path))
    return commit(path, files or {"README.md": "hello\n"}, message=message)


def commit(path: Path, files: dict[str, str], *, message: str = "change") -> str:
    """Write ``files``, stage and commit them; returns the new commit sha."""
    for name, text in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    porcelain.add(str(path), paths=[str(path / name) for name in files])
    sha = porcelain.commit(str(path), message=message.encode(), author=AUTHOR, committer=AUTHOR)
    return sha.decode("ascii")


def set_remote(path: Path, url: str, name: str = "origin") -> None:
    """Add ``[remote "name"] url = ...`` to the repository config."""
    with Repo(str(path)) as repo:
        config = repo.get_config()
        config.set((b"remote", name.encode()), b"url", url.encode())
        config.write_to_path()


def detach(path: Path, sha: str) -> None:
    """Point HEAD straight at ``sha`` (what ``git checkout <sha>`` does)."""
    (path / ".git" / "HEAD").write_text(sha + "\n")
