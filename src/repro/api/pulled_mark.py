"""After a pull or clone: move the push's high-water mark over what the remote has.

A push without targets walks only the records numbered after its mark (every
local record up to it is on the remote; see ``IndexCache.pushed_mark``). Records
a pull brought are on the remote by definition, yet without a mark the next push
would walk each of them once. So after a pull the mark moves, but only as far as
it is true: over the records after it, in number order, while each is listed in
the remote's index; it stops at the first that is not (a record captured here
and never pushed, which the next push must send). The mark for pushes with
models stops, too, at the first record the remote got without its model
versions (pushed with ``--no-models``): a push with models must walk it, and
sends the models this store has by then. The remote's index says which, as it
does for a push (``transfer.push`` sends a record again only when the remote has
it without its models), not what this store holds: a ``--no-models`` clone of a
remote that has the models keeps that mark, since the models are there.

The work is bounded by the records numbered after the mark: for a clone, the
records it pulled; for a pull, those plus the local ones not pushed yet, and it
stops at the first of those.
"""

from __future__ import annotations

from repro.api.repository import Repository
from repro.lineage import numbering
from repro.remote.index_cache import IndexCache

#: Records looked up in the remote's index per round.
_AT_ONCE = 1000


def mark_what_the_remote_has(repo: Repository, cache: IndexCache) -> None:
    """Move both push marks over the local records the remote's index (as synced for
    this pull) lists."""
    marked, since_models = cache.pushed_mark(models=True)
    _, since_any = cache.pushed_mark(models=False)
    conn = repo.index.conn
    epoch, last, numbered = numbering.numbers_after_mark(conn, marked, since_models)
    if marked != epoch:  # no mark yet, or one of another numbering: it says nothing
        since_any = since_models = 0
    reach = _Reach(cache, since_any, since_models)
    for start in range(0, len(numbered), _AT_ONCE):
        if not reach.extend(numbered[start:start + _AT_ONCE]):
            break
    else:  # every record numbered is on the remote
        reach.any = last
        if reach.models_open:
            reach.models = last
    if reach.any > since_any or reach.models > since_models:
        claimed = numbering.claim(conn, epoch)
        cache.mark_pushed(claimed, reach.any, models=False)
        cache.mark_pushed(claimed, reach.models, models=True)


class _Reach:
    """How far each mark may go: over the records, in number order, while each is on
    the remote (``any``), and with its model versions there (``models``)."""

    def __init__(self, cache: IndexCache, since_any: int, since_models: int):
        self.cache = cache
        self.any, self.models = since_any, since_models
        self.models_open = True

    def extend(self, numbered: list[tuple[int, str]]) -> bool:
        """Go over the next records; False once the mark for any push stopped."""
        states = self.cache.record_states(rid for _, rid in numbered)
        for n, rid in numbered:
            if self.models_open and states.get(rid):
                self.models = n
            else:
                self.models_open = False
            if n <= self.any:  # on the remote already, as the mark said
                continue
            if rid not in states:
                return False
            self.any = n
        return True
