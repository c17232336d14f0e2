"""``repro identify``: the record of a stripped, re-encoded, resized or cropped copy.

Exact bytes first (the output BLAKE3 in the index), then the decoded pixels
(the pixel hash), then the perceptual fingerprint kept in the index for every
output (``lineage.perceptual``), found through the index's 16-bit parts of it.
Outputs captured before fingerprints existed get theirs here, from the stored
objects. A far fingerprint candidate is weak: in a large store unrelated images
come that close (docs/benchmarks.md).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

from repro.api.repository import Repository
from repro.errors import InputError, NotAnImage, NotFound
from repro.lineage.index import Index
from repro.objects import hashing

#: Fingerprints at most this many bits apart are candidates (docs/benchmarks.md).
MAX_DISTANCE = 10
#: A fingerprint candidate this many bits away or more is weak: unrelated images
#: come that close often enough in a large store (docs/benchmarks.md).
WEAK_DISTANCE = 8
#: Fingerprint rows written per transaction while filling them.
FILL_BATCH = 256
#: How a candidate was found, best first.
HOWS = ("bytes", "pixels", "fingerprint")


@dataclass(frozen=True)
class Candidate:
    """A record whose output may be the file: ``distance`` is 0 for the same bytes
    or pixels, else the fingerprint bits that differ (of 64)."""

    id: str
    distance: int
    how: str
    path: str | None = None

    @property
    def weak(self) -> bool:
        """A lead to check by eye, not an identification (``WEAK_DISTANCE``)."""
        return self.how == "fingerprint" and self.distance >= WEAK_DISTANCE

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "distance": self.distance, "how": self.how, "path": self.path,
                "weak": self.weak}


def fill_prints(repo: Repository,
                progress: Callable[[str, int, int], None] | None = None
                ) -> dict[str, tuple[str | None, int]]:
    """Compute the fingerprints missing from the index from the stored outputs, and
    return them (``{output: (pixel hash, fingerprint)}``). An output not in the store, or not an
    image, gets an empty row (so it is not tried again). The rows are kept in the
    index when it can be written; on a full disk or a locked index they serve this
    lookup only, and nothing is written (a read-only store's index is a copy in
    memory already)."""
    from repro.lineage.perceptual import prints_of, to_signed

    missing = repo.index.outputs_without_prints()
    computed: dict[str, tuple[str | None, int]] = {}
    rows: list[tuple[str, str | None, int | None]] = []
    writable = True
    for done, oid in enumerate(missing, 1):
        found = None
        if oid in repo.store:
            with repo.store.open(oid) as f:
                found = prints_of(f)
        if found is None:
            rows.append((oid, None, None))
        else:
            rows.append((oid, found[0], to_signed(found[1])))
            computed[oid] = found
        if writable and (len(rows) >= FILL_BATCH or done == len(missing)):
            writable = _keep(repo.index.add_prints, rows)
            rows = []
        if progress:
            progress("fingerprinting stored outputs", done, len(missing))
    if writable:
        _keep(repo.index.prints_checked)
    return computed


def _keep(write: Callable[..., None], *args: Any) -> bool:
    """Run an index write that only saves work for later; False when the index
    cannot take it now (a full disk, another writer holding it)."""
    try:
        write(*args)
    except sqlite3.OperationalError:
        return False
    return True


def identify(repo: Repository, path: Path, *, max_distance: int = MAX_DISTANCE,
             limit: int = 10,
             progress: Callable[[str, int, int], None] | None = None) -> list[Candidate]:
    """Records whose output ``path`` may be a copy of, best first: the same bytes,
    the same pixels, then fingerprints within ``max_distance`` bits. Raises
    ``NotFound`` when none is close enough."""
    from repro.lineage.perceptual import MAX_SOURCE_BYTES, query_prints

    try:
        large = path.stat().st_size > MAX_SOURCE_BYTES
        data = None if large else path.read_bytes()
        blake3 = hashing.hash_file(path) if data is None else hashing.hash_bytes(data)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    index = repo.index
    rid = index.record_for_output(blake3)
    if rid is not None:
        return [_candidate(repo, rid, 0, "bytes")]
    query = query_prints(data) if data is not None else None
    if query is None:
        raise NotAnImage(f"{path}: not an image that can be decoded")
    computed = fill_prints(repo, progress)
    digest, prints = query
    found: dict[str, tuple[int, str]] = {}
    for output in index.outputs_with_pixels(digest) if digest else ():
        found[output] = (0, "pixels")
    for output, (pixels, _) in computed.items():
        if digest and pixels == digest:
            found[output] = (0, "pixels")
    fresh = {output: fingerprint for output, (_, fingerprint) in computed.items()}
    for output, d in _near(index, prints, max_distance, fresh).items():
        if output not in found:
            found[output] = (d, "fingerprint")
    candidates: dict[str, Candidate] = {}
    for output, (distance, how) in found.items():
        rid = index.record_for_output(output)
        if rid is not None and rid not in candidates:
            candidates[rid] = _candidate(repo, rid, distance, how)
    ranked = sorted(candidates.values(), key=lambda c: (c.distance, HOWS.index(c.how), c.id))
    if not ranked:
        raise NotFound(f"{path}: no captured output is close to it (no same bytes, no same "
                       f"pixels, no fingerprint within {max_distance} bits)",
                       hint="it may not come from this store; a heavier edit than "
                            "re-encoding, resizing or a small crop is not recognised "
                            "(--max-distance widens the search)")
    return ranked[:limit]


def _near(index: Index, prints: list[int], max_distance: int,
          computed: dict[str, int] | None = None) -> dict[str, int]:
    """Outputs whose fingerprint is within ``max_distance`` bits of the nearest of
    ``prints`` (the guesses), with that distance; ``computed`` are fingerprints
    not in the index. Up to 11 bits, the index's 16-bit parts are probed (a match
    has a part within 2 bits: ``near_parts``), all guesses' values of a part in
    one probe; further, every fingerprint is read."""
    from repro.lineage.perceptual import hamming

    rows: Iterable[tuple[str, int]] = (_probe(index, prints, max_distance) if max_distance <= 11
                                       else zip(*index.prints(), strict=True))
    found: dict[str, int] = {}
    for output, p in chain(rows, (computed or {}).items()):
        if (d := min(hamming(p, q) for q in prints)) <= max_distance:
            found[output] = d
    return found


def _probe(index: Index, prints: list[int], max_distance: int) -> Iterator[tuple[str, int]]:
    """``(output, fingerprint)`` of every row with a 16-bit part within 2 bits of
    the same part of one of ``prints`` (a row may come more than once)."""
    from repro.lineage.perceptual import near_parts

    values: list[set[int]] = [set(), set(), set(), set()]
    for q in prints:
        for part, near in enumerate(near_parts(q, 2)):
            values[part].update(near)
    for part, wanted in enumerate(values):
        yield from index.prints_with_part(part, sorted(wanted), near=(prints, max_distance))


def _candidate(repo: Repository, rid: str, distance: int, how: str) -> Candidate:
    path = repo.index.summaries([rid]).get(rid, {}).get("path")
    return Candidate(rid, distance, how, path)
