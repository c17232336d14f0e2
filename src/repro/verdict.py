"""The reproducibility verdict: one pure function from what is known to a level
and its reasons.

Capture (``repro add``, ``repro watch``) and ``repro verify`` gather facts:
what the file's metadata gave (``Reading``), how each model and input was
found (``ModelFound``, ``InputFound``), what a server said at creation time
(``Reason`` values from ``repro.watch``), and at verify time how each model
stands on disk now (``ModelNow``) and how the environment differs
(``EnvironmentChange``). ``assess`` turns them into an ``Assessment``; nothing
else in repro makes a level or a reason. ``ready`` says whether pressing
generate now would use the recorded bytes.

The rule behind every branch: when repro cannot know which bytes the engine
used, the level is not ``full``. Each reason has a stable code (listed in
``CODES``) and a sentence a person can act on.

A leaf above ``repro.record``: it does no I/O and imports nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from repro.record.types import Assessment, Reason
from repro.record.values import field, value_class
from repro.record.vocabulary import worst_level

#: Every reason code, with the level it caps a record at (``full``: informational).
CODES: dict[str, str] = {
    "metadata.none": "none",
    "metadata.provenance-only": "none",
    "metadata.workflow-only": "partial",
    "metadata.gap": "partial",
    "model.unresolved": "approximate",
    "model.mismatch": "approximate",
    "model.known-by-hash": "approximate",
    "model.known-by-name": "approximate",
    "model.found-elsewhere": "full",
    "model.modified-after-output": "approximate",
    "input.mismatch": "approximate",
    "input.modified-after-output": "approximate",
    "input.missing": "approximate",
    "server": "approximate",
    "server.info": "full",
    "model.changed": "full",
    "model.changed-on-remote": "full",
    "model.changed-not-in-store": "approximate",
    "model.missing": "full",
    "model.missing-on-remote": "full",
    "model.missing-not-in-store": "approximate",
    "model.moved": "full",
    "model.metadata-only": "full",
    "model.edited-in-place": "approximate",
    "input.gone": "full",
    "environment.changed": "approximate",
    "rerun.exact": "full",
    "rerun.different": "approximate",
    "rerun.failed": "full",
    "unspecified": "full",
}

#: Doubts about which bytes the engine used (or whether the environment matters)
#: that an exact rerun in the current environment settles.
SETTLED_BY_RERUN = ("server", "model.modified-after-output", "input.modified-after-output",
                    "environment.changed")


@value_class(frozen=True)
class Reading:
    """What the file's own metadata supports: its kind (``execution``,
    ``workflow-only``, ``provenance-only``, ``none``), the best level the
    reader gave it, and the gaps it found (no seed, a dangling link...)."""

    metadata: str
    level: str
    gaps: tuple[str, ...] = ()


@value_class(frozen=True)
class ModelFound:
    """How capture found a model the generation names.

    ``how``: ``name`` (at its expected place), ``hash`` or ``filename``
    (elsewhere), ``unresolved`` (the resolver failed: ``detail`` says why),
    ``mismatch`` (the file by that name is another version: ``path`` names it),
    ``missing``. ``recorded_hash`` is the first hash the file recorded
    (``sha256:abc...``); ``roots`` the model roots searched; ``modified``
    ``(file time, output time)`` when the file changed after the output was made.
    """

    label: str
    how: str
    path: str | None = None
    recorded_hash: str | None = None
    roots: tuple[str, ...] = ()
    detail: str | None = None
    modified: tuple[str, str] | None = None


@value_class(frozen=True)
class InputFound:
    """How capture found an input: ``file`` (at ``path``), ``parent`` (its bytes
    are a known output), ``mismatch`` (the file at ``path`` is not the recorded
    one) or ``missing`` (not in ``searched``); ``modified`` ``(file time, output
    time)`` when a file the image recorded no hash of changed after the output was
    made, so its bytes now may not be the ones the engine read."""

    label: str
    how: str
    path: str | None = None
    searched: tuple[str, ...] = ()
    modified: tuple[str, str] | None = None


@value_class(frozen=True)
class ModelNow:
    """A recorded model on disk now (``repro verify``): ``status`` is ``ok``,
    ``changed``, ``missing``, ``moved``, ``metadata-only`` or ``edited-in-place``;
    whether the recorded version is in the local store, and else the remotes whose
    index listed it at the last sync (``checkout`` can fetch it from them)."""

    label: str
    status: str
    recorded: str | None = None
    now: str | None = None
    in_store: bool = False
    path: str | None = None
    remotes: tuple[str, ...] = ()


@value_class(frozen=True)
class InputNow:
    """A recorded input file on disk now: ``missing``, ``changed``, or ``unknown`` (its
    bytes were never recorded; only those are reported), whether the recorded bytes
    are in the store, and else the remotes that had them at the last sync."""

    label: str
    status: str
    in_store: bool = False
    remotes: tuple[str, ...] = ()


@value_class(frozen=True)
class EnvironmentChange:
    """One difference between the recorded environment and the current one."""

    what: str
    recorded: Any
    current: Any
    changes_output: bool


@value_class(frozen=True)
class Rerun:
    """A rerun's receipt (``repro rerun``): ``outcome`` (``exact``, ``different``,
    ``failed``), its one-sentence ``summary``, and whether it ran in the current
    environment (``current``; None when the current environment is not known)."""

    outcome: str
    summary: str
    current: bool | None = None


@value_class(frozen=True)
class Evidence:
    """Everything known about one output. At capture: ``reading``, ``models``,
    ``inputs`` and ``server``. At verify: ``captured`` (the record's own
    assessment), ``models_now``, ``inputs_now`` and ``environment``."""

    reading: Reading | None = None
    models: tuple[ModelFound, ...] = ()
    inputs: tuple[InputFound, ...] = ()
    server: tuple[Reason, ...] = ()
    captured: Assessment | None = None
    models_now: tuple[ModelNow, ...] = ()
    inputs_now: tuple[InputNow, ...] = ()
    environment: tuple[EnvironmentChange, ...] = field(default_factory=tuple)
    #: rerun receipts, oldest first
    reruns: tuple[Rerun, ...] = ()


def deciding_rerun(reruns: Iterable[Rerun]) -> Rerun | None:
    """The rerun that speaks for a record: the latest that finished (exact or
    different); a failed job says nothing about the pixels."""
    finished = [r for r in reruns if r.outcome in ("exact", "different")]
    return finished[-1] if finished else None


def assess(evidence: Evidence) -> Assessment:
    """The level and reasons ``evidence`` supports.

    An exact rerun in the current environment is the strongest evidence there
    is: the doubts it settles (``SETTLED_BY_RERUN``) no longer lower the level.
    A rerun that came back different caps the level at approximate.
    """
    reasons = list(dict.fromkeys(_reasons(evidence)))
    last = deciding_rerun(evidence.reruns)
    proven = last is not None and last.outcome == "exact" and last.current is True
    floor = "full"
    if evidence.reading is not None:
        floor = evidence.reading.level
    if evidence.captured is not None:
        if proven and evidence.captured.level != "none":
            floor = worst_level(floor, *(CODES.get(r.code, "full")
                                         for r in evidence.captured.reasons
                                         if r.code not in SETTLED_BY_RERUN))
        else:
            floor = worst_level(floor, evidence.captured.level)
    level = worst_level(floor, *(CODES.get(r.code, "full") for r in reasons
                                 if not (proven and r.code in SETTLED_BY_RERUN)))
    return Assessment(level, tuple(reasons))


def ready(evidence: Evidence, level: str) -> bool:
    """Whether pressing generate now would use the recorded bytes: every model
    recorded by content is on disk as recorded (or differs only in its header),
    every input is where it was, there was something to reproduce, and the
    latest rerun, if any, came back exact."""
    if level == "none" or evidence.inputs_now:
        return False
    last = deciding_rerun(evidence.reruns)
    if last is not None and last.outcome == "different":
        return False
    if last is not None and last.current is True and not evidence.models_now:
        return True
    if not evidence.models_now:  # nothing to check on disk: only a complete record will do
        return level == "full"
    return all(m.status in ("ok", "metadata-only") and m.recorded for m in evidence.models_now)


def _reasons(e: Evidence) -> Iterator[Reason]:
    if e.captured is not None:
        yield from e.captured.reasons
    if e.reading is not None:
        yield from _reading(e.reading)
    for m in e.models:
        yield from _model_found(m)
    for found in e.inputs:
        yield from _input_found(found)
    yield from e.server
    for now in e.models_now:
        yield from _model_now(now)
    for i in e.inputs_now:
        if i.status == "unknown":
            yield Reason("input.gone", f"{i.label}: its bytes were not recorded (not found at "
                                       "capture), so a re-run cannot load the image that was "
                                       "used: put it back and run `repro add --refresh`")
            continue
        what = "missing from disk" if i.status == "missing" else "changed on disk"
        fix = ("run `repro checkout --inputs`" if i.in_store
               else f"{_on_remotes(i.remotes)}: run `repro checkout --inputs` (it fetches and "
                    "checks it)" if i.remotes
               else "the recorded version is not in the store nor on any remote (as of last "
                    "sync)")
        yield Reason("input.gone", f"{i.label}: {what}; a re-run would not load the recorded "
                                   f"image: {fix}")
    yield from _reruns(e.reruns)
    for change in e.environment:
        if change.changes_output:
            yield Reason("environment.changed",
                         f"environment: {change.what} (recorded {_show(change.recorded)}, "
                         f"now {_show(change.current)})")


def _reruns(reruns: tuple[Rerun, ...]) -> Iterator[Reason]:
    last = deciding_rerun(reruns)
    for r in reruns:
        if r.outcome == "failed" and r is reruns[-1]:
            yield Reason("rerun.failed", r.summary)
    if last is None:
        return
    if last.outcome == "different":
        yield Reason("rerun.different", f"{last.summary}: the recorded parameters and models "
                                         "did not give the recorded pixels back")
    elif last.current is True:
        yield Reason("rerun.exact", f"{last.summary}, in the current environment")
    else:
        where = "another environment" if last.current is False else "an environment not " \
            "compared with the current one"
        yield Reason("rerun.exact", f"{last.summary} ({where})")


def _reading(r: Reading) -> Iterator[Reason]:
    code = {"none": "metadata.none", "provenance-only": "metadata.provenance-only",
            "workflow-only": "metadata.workflow-only"}.get(r.metadata, "metadata.gap")
    for gap in r.gaps:
        yield Reason(code, gap)


def _model_found(m: ModelFound) -> Iterator[Reason]:
    if m.how == "unresolved":
        yield Reason("model.unresolved", f"{m.label}: {m.detail}")
    if m.how == "mismatch":
        yield Reason("model.mismatch", f"{m.label}: the file at {m.path} does not match the hash "
                                       "the image recorded, and no file under the model roots does")
    elif m.how in ("missing", "unresolved") and m.recorded_hash:
        yield Reason("model.known-by-hash",
                     f"{m.label}: not found under the model roots; known only by its recorded "
                     f"hash {m.recorded_hash}: put the file under a model root and run "
                     "`repro add` again")
    elif m.how in ("missing", "unresolved"):
        yield Reason("model.known-by-name", f"{m.label}: not found under the model roots "
                                            f"({', '.join(m.roots)}); known only by name")
    elif m.how in ("hash", "filename"):
        by = "recorded hash" if m.how == "hash" else "file name"
        yield Reason("model.found-elsewhere",
                     f"{m.label}: not at its expected place; found by {by} at {m.path}")
    if m.modified is not None:
        yield _modified_after("model", m.label, m.modified, "the version that was used")


def _input_found(i: InputFound) -> Iterator[Reason]:
    if i.how == "mismatch":
        yield Reason("input.mismatch", f"{i.label}: the file at {i.path} does not match the "
                                       "hash the image recorded")
    elif i.how == "missing":
        yield Reason("input.missing", f"{i.label}: not found (looked in {', '.join(i.searched)})")
    if i.modified is not None:
        yield _modified_after("input", i.label, i.modified, "the input that was used")


def _modified_after(kind: str, label: str, times: tuple[str, str], used: str) -> Reason:
    """A file the image recorded no hash of, changed after the output was made."""
    file_time, output_time = times
    return Reason(f"{kind}.modified-after-output",
                  f"{label}: the file was modified after the output was made ({file_time} > "
                  f"{output_time}) and the image recorded no hash of it: the content captured "
                  f"may not be {used}")


def _model_now(m: ModelNow) -> Iterator[Reason]:
    short, now = (m.recorded or "")[:12], (m.now or "")[:12]
    differs = f"file on disk is a different version (recorded {short}..., now {now}...)"
    if m.status == "edited-in-place":
        yield Reason("model.edited-in-place",
                     f"{m.label}: the file was edited in place, and it is hardlinked to the store "
                     "(store mode hardlink), so the recorded version is damaged too: "
                     "`repro fsck` lists it; restore the file from a backup")
    elif m.status == "changed" and m.in_store:
        yield Reason("model.changed", f"{m.label}: {differs}; the recorded version is in the "
                                      "store: run `repro checkout`")
    elif m.status == "changed" and m.remotes:
        yield Reason("model.changed-on-remote", f"{m.label}: {differs}; the recorded version is "
                                                f"not in the store but {_on_remotes(m.remotes)}: run "
                                                "`repro checkout` (it fetches and checks it)")
    elif m.status == "changed":
        yield Reason("model.changed-not-in-store",
                     f"{m.label}: {differs}, and the recorded version is {_nowhere()}")
    elif m.status == "missing" and m.recorded and m.in_store:
        yield Reason("model.missing", f"{m.label}: missing from disk; the recorded version is in "
                                      "the store: run `repro checkout`")
    elif m.status == "missing" and m.recorded and m.remotes:
        yield Reason("model.missing-on-remote", f"{m.label}: missing from disk and not in the "
                                                f"store, but {_on_remotes(m.remotes)}: run `repro "
                                                "checkout` (it fetches and checks it)")
    elif m.status == "missing" and m.recorded:
        yield Reason("model.missing-not-in-store", f"{m.label}: missing from disk, and the "
                                                   f"recorded version is {_nowhere()}")
    elif m.status == "moved":
        yield Reason("model.moved", f"{m.label}: renamed or moved: the recorded version is now "
                                    f"at {m.path}")
    elif m.status == "metadata-only":
        yield Reason("model.metadata-only", f"{m.label}: only the safetensors header changed "
                                            "(same tensors); outputs are unaffected")


def _on_remotes(remotes: tuple[str, ...]) -> str:
    names = ", ".join(remotes)
    return f"remote {names} has it (as of last sync)" if len(remotes) == 1 else \
        f"remotes {names} have it (as of last sync)"


def _nowhere() -> str:
    return ("not in the store nor on any remote (as of last sync): nothing here can restore it "
            "(captured in reference mode, dropped, or cloned without models)")


def _show(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    return str(value)


def server_reason(text: str, *, downgrades: bool = True) -> Reason:
    """A fact a live server gave (``repro.watch``): it caps the level at
    approximate unless ``downgrades`` is false."""
    return Reason("server" if downgrades else "server.info", text)


def texts(reasons: Iterable[Reason]) -> list[str]:
    return [r.text for r in reasons]
