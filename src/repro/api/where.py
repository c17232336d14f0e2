"""Where a recorded version is: here (in the local store, or on disk as recorded),
on a remote, or nowhere.

``verify`` and ``status`` answer this for every model version they report. They
never ask a remote: they read this store's own copy of each remote's index (what
the remote held at the last push, pull or clone that read it), so they stay fast
and work with the remote unreachable; they say "as of last sync" because the
remote may have changed since. ``checkout`` and ``rerun`` fetch what a remote
has, checking every byte against its hash.
"""

from __future__ import annotations

from collections.abc import Callable

from repro.api.repository import Repository

#: ``location`` values: the recorded bytes are on this machine; only on a remote
#: (as of last sync); on neither (nothing can restore them).
LOCAL, REMOTE, NOWHERE = "local", "remote", "nowhere"


class Locator:
    """Answers "which remotes list this object?" from the local copies of their
    indexes, each read once, and only when first asked."""

    def __init__(self, repo: Repository):
        self.repo = repo
        self._lists: list[tuple[str, Callable[[str], bool]]] | None = None

    def remotes_with(self, oid: str) -> tuple[str, ...]:
        """The remotes whose index (as of last sync) lists ``oid``, by name."""
        if self._lists is None:
            self._lists = _remote_lists(self.repo)
        return tuple(name for name, has in self._lists if has(oid))

    def location(self, oid: str | None, *, here: bool) -> tuple[str, tuple[str, ...]]:
        """(``location``, remotes listing it): ``here`` says the bytes are on this
        machine already; remotes are asked about versions that are not."""
        if here:
            return LOCAL, ()
        remotes = self.remotes_with(oid) if oid else ()
        return (REMOTE if remotes else NOWHERE), remotes


def _remote_lists(repo: Repository) -> list[tuple[str, Callable[[str], bool]]]:
    """Per configured remote, a membership test over its locally kept index."""
    from repro.api.remote import list_remotes

    return [(spec.name, _cached_index(repo, spec.name)) for spec in list_remotes(repo)]


def _cached_index(repo: Repository, name: str) -> Callable[[str], bool]:
    """Whether the local copy of the remote's index (``.repro/remotes/NAME/index.sqlite``,
    fed from segments each checked against its hash) lists an object; nothing is
    listed for a remote never synced, or whose copy cannot be read."""
    import sqlite3

    from repro.api.remote import local_index

    try:
        cache = local_index(repo, name)
    except sqlite3.Error:
        cache = None
    if cache is None:
        return lambda oid: False

    def lists(oid: str) -> bool:
        try:
            return bool(cache.locations([oid]))
        except sqlite3.Error:
            return False

    return lists
