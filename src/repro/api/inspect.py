"""``repro inspect``: the generation metadata of files, with no repository.

Every file is read, good and bad: one that cannot be read does not stop the
others, it is reported with its error (the caller decides the exit status).
A folder is read as ``add`` reads it (its files, recursively, hidden folders
skipped); a file in a folder that is not an image at all is passed over
(``skipped``), as ``add`` passes it over.
"""

from __future__ import annotations

import gc
import os
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repro.capture.types import Generation
from repro.errors import InputError, NotAnImage, ReproError
from repro.record import Assessment, exact_numbers


@dataclass
class Inspected:
    """One file's generation metadata and the level it alone supports."""

    path: str
    generation: Generation
    assessment: Assessment
    #: what the C2PA library says of the file's manifest (``inspect --c2pa``)
    credentials: dict[str, Any] | None = None

    @property
    def invalid_credentials(self) -> bool:
        """Its C2PA manifest does not validate (tampered, or signed with a key that does
        not match)."""
        return self.credentials is not None and self.credentials.get("valid") is False

    def to_dict(self) -> dict[str, Any]:
        d = {"path": self.path, **self.generation.to_dict(), **self.assessment.summary()}
        if self.credentials is not None:
            d["c2pa"] = self.credentials
        too_big: list[str] = []
        if not _fits_json(d["params"]):
            d["params"], too_big = exact_numbers(d["params"], "params")
        if too_big:
            d["warnings"] = [*d["warnings"], *(f"{w}: an integer too large for JSON numbers, "
                                               "shown exactly as text" for w in too_big)]
        return d


def _fits_json(value: Any) -> bool:
    """Whether orjson writes ``value`` as it is (nearly always): then no integer needs
    the exact-text form, and the slower walk of ``exact_numbers`` is not needed."""
    import orjson

    try:
        orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        return False
    return True


@dataclass
class Unreadable:
    """A file that could not be inspected, and why."""

    path: str
    error: ReproError

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"path": self.path, "error": str(self.error),
                             "exit_code": self.error.exit_code}
        if self.error.hint:
            d["hint"] = self.error.hint
        return d


@dataclass
class InspectResult:
    """Each file in order (read or not), and the files of folders passed over."""

    files: list[Inspected | Unreadable] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    @property
    def failed(self) -> list[Unreadable]:
        return [f for f in self.files if isinstance(f, Unreadable)]

    @property
    def invalid_credentials(self) -> list[Inspected]:
        """Files whose C2PA manifest the library does not validate (tampered, or
        signed with a key that does not match)."""
        return [f for f in self.files if isinstance(f, Inspected) and f.invalid_credentials]

    @property
    def exit_code(self) -> int:
        """The exit code of the first file that could not be read; else 1 when a C2PA
        manifest does not validate (a check failed); else 0."""
        failed = self.failed
        return failed[0].error.exit_code if failed else 1 if self.invalid_credentials else 0

    def to_dict(self) -> list[dict[str, Any]]:
        return [f.to_dict() for f in self.files]


def _candidates(paths: Iterable[Path]) -> Iterator[tuple[Path, bool, bool]]:
    """Each file to read, whether it was found in a folder (not named), and whether it
    is known to exist (one ``stat`` a named path, not one for "folder?" and one for
    "there?")."""
    for path in paths:
        try:
            mode = os.stat(path).st_mode
        except (OSError, ValueError):
            yield path, False, False
            continue
        if stat.S_ISDIR(mode):
            from repro.objects.walk import iter_files

            for found, _stat in iter_files(path):
                yield Path(found), True, True
        else:
            yield path, False, True


def _credentials(path: Path, media_type: str | None) -> dict[str, Any]:
    from repro.credentials.c2pa_sign import validate

    found = validate(path.read_bytes(), media_type) if media_type else None
    return {"state": "none"} if found is None else found.to_dict()


def inspect(paths: Iterable[Path], *, c2pa: bool = False) -> InspectResult:
    """Generation metadata of files and folders; needs no repository. A file that is
    missing or unusable (``InputError``) is reported in its place and
    the others are read all the same. With ``c2pa``, a file's C2PA manifest is
    also validated by the C2PA library (signature, signer, changed after signing)."""
    result = InspectResult()
    result.files.extend(inspect_each(paths, c2pa=c2pa, skipped=result.skipped))
    return result


def inspect_each(paths: Iterable[Path], *, c2pa: bool = False,
                 skipped: list[dict[str, str]] | None = None
                 ) -> Iterator[Inspected | Unreadable]:
    """``inspect`` one file at a time, for a caller that writes each result as it
    comes (memory stays flat over any number of files); files of folders passed
    over are appended to ``skipped``. The cycle collector is paused until the
    iteration ends."""
    with _cycle_collector_paused():
        for path, in_folder, exists in _candidates(paths):
            found = _inspect_one(path, in_folder, exists, c2pa, skipped)
            if found is not None:
                yield found


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector over a batch of files.

    Reading a file builds large trees of parsed JSON, and each few hundred new
    objects start a collection that walks everything alive: a fifth of the
    time of a big ComfyUI graph. The readers make no reference cycles
    (tests/capture/test_round2.py checks it), so reference counting frees each
    file's objects all the same; the collector is resumed afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _inspect_one(path: Path, in_folder: bool, exists: bool, c2pa: bool,
                 skipped: list[dict[str, str]] | None) -> Inspected | Unreadable | None:
    """One file's result, or None for a non-image passed over in a folder."""
    from repro.capture import read_file
    from repro.verdict import Evidence, Reading, assess

    if not exists and not path.exists() and not path.is_symlink():
        return Unreadable(str(path), InputError(f"{path}: no such file"))
    try:
        gen = read_file(path)
    except NotAnImage as exc:
        if not in_folder:
            return Unreadable(str(path), exc)
        if skipped is not None:
            skipped.append({"path": str(path), "reason": str(exc)})
        return None
    except ReproError as exc:
        return Unreadable(str(path), exc)
    gen.blobs = {}  # the raw payloads: inspect shows the reading, never the bytes
    reading = Reading(gen.metadata, gen.level, tuple(gen.reasons))
    try:
        credentials = _credentials(path, gen.media_type) if c2pa else None
    except ReproError as exc:
        return Unreadable(str(path), type(exc)(f"{path}: {exc}", hint=exc.hint))
    return Inspected(str(path), gen, assess(Evidence(reading=reading)), credentials)
