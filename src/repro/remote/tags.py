"""Tags on a remote (``tags/NAME``, a record id), moved only by compare-and-swap.

The local store remembers, per remote, which record each tag named when it last
synced (``seen``). A push moves a remote tag only when the remote still names
what was seen (If-Match on the version read); when someone else moved it
meanwhile the push is refused: nobody's tag is overwritten unknowingly.
"""

from __future__ import annotations

from dataclasses import dataclass

from repro.errors import ConflictError
from repro.lineage.refs import check_tag_name
from repro.objects.faults import checkpoint
from repro.objects.ids import check_id
from repro.remote.base import CasConflict, Remote


def tag_key(name: str) -> str:
    return f"tags/{check_tag_name(name)}"


@dataclass(frozen=True)
class TagMove:
    name: str
    id: str
    was: str | None


def read_tag(remote: Remote, name: str) -> str | None:
    got = remote.read_versioned(tag_key(name))
    return check_id(got[0].decode("ascii", "replace").strip()) if got else None


def push_tag(remote: Remote, name: str, record_id: str, seen: str | None, *,
             force: bool = False) -> TagMove | None:
    """Set the remote tag ``name`` to ``record_id``; None when it already names it."""
    key = tag_key(name)
    got = remote.read_versioned(key)
    current = check_id(got[0].decode("ascii", "replace").strip()) if got else None
    if current == record_id:
        return None
    if current is not None and current != seen and not force:
        raise _moved(name, current)
    checkpoint("tag.read")
    try:
        remote.replace(key, (record_id + "\n").encode(), got[1] if got else None)
    except CasConflict:
        now = read_tag(remote, name)
        raise _moved(name, now or "nothing") from None
    return TagMove(name, record_id, current)


def _moved(name: str, current: str) -> ConflictError:
    return ConflictError(f"tag {name!r} on the remote was moved by someone else "
                         f"(it names {current[:12]} now)",
                         hint=f"pull to see it, then push again; or overwrite it on purpose "
                              f"with `repro push --force-tags` (tag {name})")
