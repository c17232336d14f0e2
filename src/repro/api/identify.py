"""``repro identify``: the record of a stripped, re-encoded, resized or cropped copy.

Exact bytes first (the output BLAKE3 in the index), then the decoded pixels
(the pixel hash), then the perceptual fingerprint kept in the index for every
output (``lineage.perceptual``): a Hamming scan of one integer a record. Outputs
captured before fingerprints existed get theirs here, from the stored objects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repro.api.repository import Repository
from repro.errors import InputError, NotAnImage, NotFound
from repro.lineage.index import Index
from repro.objects import hashing

#: Fingerprints at most this many bits apart are candidates (docs/benchmarks.md).
MAX_DISTANCE = 10
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

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "distance": self.distance, "how": self.how, "path": self.path}


def fill_prints(repo: Repository,
                progress: Callable[[str, int, int], None] | None = None) -> int:
    """Compute the fingerprints missing from the index from the stored outputs;
    returns how many were computed. An output not in the store, or not an image,
    gets an empty row (so it is not tried again)."""
    from repro.lineage.perceptual import prints_of, to_signed

    missing = repo.index.outputs_without_prints()
    rows: list[tuple[str, str | None, int | None]] = []
    for done, oid in enumerate(missing, 1):
        found = None
        if oid in repo.store:
            with repo.store.open(oid) as f:
                found = prints_of(f)
        rows.append((oid, None, None) if found is None
                    else (oid, found[0], to_signed(found[1])))
        if len(rows) >= FILL_BATCH or done == len(missing):
            repo.index.add_prints(rows)
            rows = []
        if progress:
            progress("fingerprinting stored outputs", done, len(missing))
    repo.index.prints_checked()
    return len(missing)


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
    fill_prints(repo, progress)
    digest, prints = query
    found: dict[str, tuple[int, str]] = {}
    for output in index.outputs_with_pixels(digest) if digest else ():
        found[output] = (0, "pixels")
    for output, d in _near(index, prints, max_distance):
        if output not in found or d < found[output][0]:
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


def _near(index: Index, prints: list[int], max_distance: int) -> Iterator[tuple[str, int]]:
    """Outputs whose fingerprint is within ``max_distance`` bits of any of ``prints``,
    with that distance. Up to 11 bits, the index's 16-bit parts are probed (a match
    has a part within 2 bits: ``near_parts``); further, every fingerprint is read."""
    from repro.lineage.perceptual import hamming, near_parts

    if max_distance <= 11:
        for q in prints:
            for part, values in enumerate(near_parts(q, 2)):
                for output, p in index.prints_with_part(part, values):
                    if (d := hamming(p, q)) <= max_distance:
                        yield output, d
        return
    outputs, stored = index.prints()
    for q in prints:
        for i in [i for i, x in enumerate(stored) if (x ^ q).bit_count() <= max_distance]:
            yield outputs[i], hamming(stored[i], q)


def _candidate(repo: Repository, rid: str, distance: int, how: str) -> Candidate:
    path = repo.index.summaries([rid]).get(rid, {}).get("path")
    return Candidate(rid, distance, how, path)
