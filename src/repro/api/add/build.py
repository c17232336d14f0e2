"""The last steps: what a live server observed laid over the file's metadata,
the verdict, and the record assembled from its parts."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from repro.api.add.output import iso_time
from repro.api.add.session import Session
from repro.capture.types import Generation, InputRef
from repro.record import (
    Captured,
    InputEntry,
    ModelEntry,
    Output,
    Params,
    Parent,
    Record,
    Source,
    Tool,
    exact_numbers,
)
from repro.record.values import field, replace, value_class
from repro.verdict import Evidence, InputFound, ModelFound, Reading, assess, server_reason


@value_class
class Live:
    """What a capture at creation time knows beyond the file (``repro watch``).

    ``generation`` replaces what the file's embedded metadata says (e.g. the
    executed prompt from a ComfyUI server's history; the file still gives the
    media type and size); ``environment`` replaces the add's environment;
    ``blobs`` are stored next to the file's own under ``source.blobs``;
    ``reasons`` are facts the server gave that cap the level at approximate;
    ``model_reasons(model_entry, path)`` may add such reasons per found model
    file (``model_entry`` is the entry's JSON).
    """

    generation: Generation | None = None
    environment: dict[str, Any] | None = None
    blobs: dict[str, bytes] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    model_reasons: Callable[[dict[str, Any], Path], list[str]] | None = None


def with_live(gen: Generation, live: Live) -> Generation:
    """The file's generation with what was observed live laid over it."""
    blobs = {**gen.blobs, **live.blobs}
    if live.generation is None:
        return replace(gen, blobs=blobs)
    observed = live.generation
    return replace(observed, blobs={**blobs, **observed.blobs},
                   inputs=_with_file_hashes(observed.inputs, gen.inputs),
                   formats=list(dict.fromkeys([*gen.formats, *observed.formats])),
                   media_type=gen.media_type, width=gen.width, height=gen.height,
                   warnings=list(dict.fromkeys([*observed.warnings, *gen.warnings])),
                   provenance={**gen.provenance, **observed.provenance})


def _with_file_hashes(observed: list[InputRef], in_file: list[InputRef]) -> list[InputRef]:
    """The observed inputs, each with the hashes the file's own metadata gives the same
    node's same input. ComfyUI's history is copied before the job runs, so it lacks
    LoadImage's ``is_changed`` (the SHA-256 of the bytes it read), which the prompt
    SaveImage embedded carries: the input file may have been overwritten since."""
    known = {(ref.node, ref.name): ref.hashes for ref in in_file if ref.hashes}
    out = []
    for ref in observed:
        extra = {k: v for k, v in known.get((ref.node, ref.name), {}).items()
                 if k not in ref.hashes}
        out.append(replace(ref, hashes={**ref.hashes, **extra}) if extra else ref)
    return out


def server_facts(session: Session, live: Live | None, models: list[ModelEntry]
                 ) -> list[Any]:
    """The reasons a live server's observations give, per model and overall."""
    if live is None:
        return []
    texts: list[str] = []
    if live.model_reasons is not None:
        for entry in models:
            if entry.path:
                texts += live.model_reasons(entry.to_dict(), session.repo.abspath(entry.path))
    texts += live.reasons
    return [server_reason(t) for t in texts]


@value_class
class Parts:
    """What the steps of one capture found, ready to become a record."""

    gen: Generation
    output: Output
    models: list[ModelEntry]
    model_facts: list[ModelFound]
    inputs: list[InputEntry]
    input_facts: list[InputFound]
    parents: list[Parent]
    blobs: Mapping[str, str]
    environment: dict[str, Any] | None
    server: list[Any]


def build_record(session: Session, parts: Parts, message: str | None) -> Record:
    gen = parts.gen
    params, too_big = exact_numbers(gen.params, "params")
    warnings = [*gen.warnings, *(f"{where}: an integer too large for JSON numbers, kept "
                                 "exactly as text" for where in too_big)]
    evidence = Evidence(reading=Reading(gen.metadata, gen.level, tuple(gen.reasons)),
                        models=tuple(parts.model_facts), inputs=tuple(parts.input_facts),
                        server=tuple(parts.server))
    return Record(
        output=parts.output,
        tool=Tool(name=gen.tool or "unknown", version=gen.tool_version,
                  commit=(parts.environment or {}).get("tool_commit")),
        params=Params.from_dict(params),
        models=tuple(parts.models),
        inputs=tuple(parts.inputs),
        parents=tuple(parts.parents),
        source=Source(format=gen.format, formats=tuple(gen.formats), metadata=gen.metadata,
                      blobs=dict(parts.blobs), warnings=tuple(dict.fromkeys(warnings)),
                      provenance=gen.provenance or None),
        environment=parts.environment,
        assessment=assess(evidence),
        captured=Captured(at=iso_time(time.time()), host=session.host, user=session.user,
                          store_mode=session.mode),
        message=message or "",
    )


def parents_of(given: list[str], found: list[str], links: tuple[Parent, ...] = ()
               ) -> list[Parent]:
    """Parents found by content (``input``), named with ``--parent`` (``given``) and
    linked by the caller with a relation (``links``: ``rerun-of``, ``variation-of``),
    one entry per record (the later kind wins), sorted by id."""
    chosen = {rid: Parent(rid, "input") for rid in found}
    chosen.update({rid: Parent(rid, "given") for rid in given})
    chosen.update({p.id: p for p in links})
    return [chosen[rid] for rid in sorted(chosen)]
