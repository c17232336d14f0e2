"""Finding the file a generation named, by name first and by content after.

A name is looked up where the tool would have looked (ComfyUI or A1111
layout under each model root). A file that is not at its place is found by
content: by a hash the image recorded (A1111 ``Model hash``, LoRA hashes,
SwarmUI tensor hashes, InvokeAI BLAKE3), or, at verify time, by the BLAKE3
repro recorded (same size first, then hash). Hashes come from the stat cache,
so each model file is read at most once per change.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from repro.models.roots import candidate_paths, iter_model_files
from repro.objects.statcache import StatCache
from repro.record.values import field, value_class


@value_class
class Resolved:
    """Where a named model was found, and how."""

    path: Path | None
    how: str  # "name", "hash", "basename", "missing"
    hashes: dict[str, str] = field(default_factory=dict)
    #: a hash the image recorded that the file at the expected name contradicts
    mismatch: str | None = None


class Resolver:
    """Resolves model references under a set of roots, with one walk per command."""

    def __init__(self, roots: Iterable[Path], stat_cache: StatCache):
        self.roots = [Path(r) for r in roots]
        self.cache = stat_cache
        self._files: list[tuple[Path, os.stat_result]] | None = None
        self._found: dict[tuple[str, int | None], Path | None] = {}

    def files(self) -> list[tuple[Path, os.stat_result]]:
        if self._files is None:
            self._files = list(iter_model_files(self.roots))
        return self._files

    def blake3(self, path: Path) -> str:
        return self.cache.hashes(path, ("blake3",))["blake3"]

    def resolve(self, *, name: str | None, role: str | None, folder: str | None,
                recorded: dict[str, str],
                hash_candidate: Callable[[Path, set[str]], dict[str, str]] | None = None,
                ) -> Resolved:
        """Find the file a generation names. ``hash_candidate(path, schemes)``
        hashes the file found by name when a recorded hash must be checked (the
        caller may store it in the same read); the stat cache's by default."""
        recorded = {k: v for k, v in recorded.items() if v}
        mismatch = None
        if name:
            for candidate in candidate_paths(self.roots, name, folder=folder, role=role):
                if not candidate.is_file():
                    continue
                if recorded:
                    from repro.models.hashes import match_recorded, needed_schemes

                    schemes = {"blake3", *needed_schemes(recorded)}
                    hashes = (hash_candidate(candidate, schemes) if hash_candidate
                              else self.cache.hashes(candidate, schemes))
                    if match_recorded(recorded, hashes) is None:
                        mismatch = str(candidate)
                        break
                    return Resolved(candidate, "name", hashes)
                # No hash yet: the caller stores the file and hashes it in that one pass.
                return Resolved(candidate, "name")
        if recorded:
            found = self.find_by_recorded(recorded)
            if found is not None:
                path, hashes = found
                return Resolved(path, "hash", hashes, mismatch=mismatch)
        if name and mismatch is None:
            base = Path(name.replace("\\", "/")).name
            stems = {base, *(base + ext for ext in (".safetensors", ".ckpt", ".pt", ".pth"))}
            for path, _st in self.files():
                if path.name in stems:
                    if recorded:
                        # No file has the recorded hash, so this one is another version.
                        return Resolved(None, "missing", mismatch=str(path))
                    return Resolved(path, "basename")
        return Resolved(None, "missing", mismatch=mismatch)

    def find_by_recorded(self, recorded: dict[str, str]) -> tuple[Path, dict[str, str]] | None:
        """The first file under the roots whose hashes match a recorded hash."""
        from repro.models.hashes import match_recorded, needed_schemes

        schemes = {"blake3", *needed_schemes(recorded)}
        # Cheap pass first: files whose hashes the cache already has.
        pending = []
        for path, st in self.files():
            known = self.cache.lookup(path, st)
            if schemes <= known.keys():
                if match_recorded(recorded, known):
                    return path, known
            else:
                pending.append((path, st))
        for path, st in pending:
            hashes = self.cache.hashes(path, schemes, st)
            if match_recorded(recorded, hashes):
                return path, hashes
        return None

    def find_by_content(self, blake3: str, size: int | None) -> Path | None:
        """A file under the roots with this BLAKE3 (only same-size files are hashed);
        answered once per version a command asks about (``verify`` of many records)."""
        if (blake3, size) not in self._found:
            self._found[blake3, size] = next(
                (path for path, st in self.files()
                 if (size is None or st.st_size == size)
                 and self.cache.hashes(path, ("blake3",), st).get("blake3") == blake3), None)
        return self._found[blake3, size]
