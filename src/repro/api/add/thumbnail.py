"""What capture learns from one decode of an output: the index row of its pixel
hash and fingerprint (``repro identify``), and its thumbnail, stored as an object
(``lineage.thumbnails``) for ``repro graph --format html``."""

from __future__ import annotations

from repro.api.repository import Repository


def look_at_output(repo: Repository, blake3: str, data: bytes
                   ) -> tuple[str, str | None, int | None]:
    """Decode the output's bytes once: store its thumbnail and give the row of its
    pixel hash and fingerprint; NULLs (and no thumbnail) when they are not a
    decodable image."""
    from repro.lineage.perceptual import looks_of, to_signed

    looks = looks_of(data)
    if looks is None:
        return blake3, None, None
    repo.thumbs.put(blake3, looks.thumbnail)
    return blake3, looks.pixel_hash, to_signed(looks.fingerprint)
