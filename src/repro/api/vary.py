"""``repro vary``: run a record's executed prompt again with one parameter changed
at a time (a grid only when asked), each output captured with relation
``variation-of`` and the value that changed; ``made`` groups what vary made.

A parameter is ``NODE.INPUT`` (any literal input of the executed graph) or a
shorthand: ``seed``, ``steps``, ``cfg``, ``sampler``, ``scheduler``,
``denoise`` (every node with that input), ``lora:NAME`` (a LoRA's model and
clip strength, by file name), ``model:NAME`` (every input naming that model
file, swapped for another file the server has).

Runs are captured one by one as they finish: Ctrl-C keeps what finished and
takes the running job off the server's queue; nothing is recorded half.
"""

from __future__ import annotations

import copy
import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from repro.api.comfyjob import Progress, Recipe, check_nodes, recipe, run_job, runner_for
from repro.api.repository import Repository
from repro.errors import JobFailed, UsageError
from repro.record import Parent, Record

SHORTHANDS: dict[str, tuple[str, ...]] = {
    "seed": ("seed", "noise_seed"), "steps": ("steps",), "cfg": ("cfg",),
    "sampler": ("sampler_name",), "scheduler": ("scheduler",), "denoise": ("denoise",),
}
#: Most runs one ``vary`` makes.
MAX_RUNS = 1000


@dataclass
class VaryResult:
    target: str
    parameter: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    sheet: str | None = None

    @property
    def failed(self) -> int:
        return sum(1 for r in self.runs if r["outcome"] != "captured")

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "parameter": self.parameter, "runs": self.runs,
                "sheet": self.sheet}


def parse_value(text: str) -> Any:
    """``12`` -> 12, ``7.5`` -> 7.5, ``true`` -> True, anything else stays text."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
    return value if isinstance(value, (int, float, bool)) else text


def parse_set(option: str) -> tuple[str, list[Any]]:
    """``KEY=V1,V2,...`` as the key and its values."""
    key, sep, values = option.partition("=")
    if not sep or not key.strip() or not values:
        raise UsageError(f"--set {option!r}: expected KEY=V1,V2,...",
                         hint="e.g. --set cfg=5,7,9 or --set 3.steps=20,30")
    return key.strip(), [parse_value(v.strip()) for v in values.split(",")]


def parse_seed_range(text: str) -> list[int]:
    """``100..109`` (inclusive) or a single seed."""
    start, sep, end = text.partition("..")
    try:
        first, last = int(start), int(end) if sep else int(start)
    except ValueError:
        raise UsageError(f"--seed {text!r}: expected A..B", hint="e.g. --seed 100..109") \
            from None
    if last < first or last - first >= MAX_RUNS:
        raise UsageError(f"--seed {text!r}: give A..B with A <= B, at most {MAX_RUNS} seeds")
    return list(range(first, last + 1))


def targets(graph: dict[str, Any], key: str) -> list[tuple[str, str]]:
    """The ``(node, input)`` pairs a parameter key names in ``graph``."""
    def literal(node: str, name: str) -> bool:
        spec = graph.get(node)
        inputs = spec.get("inputs") if isinstance(spec, dict) else None
        return isinstance(inputs, dict) and name in inputs \
            and not isinstance(inputs[name], list)

    found: list[tuple[str, str]] = []
    if key in SHORTHANDS:
        found = [(n, i) for n in graph for i in SHORTHANDS[key] if literal(n, i)]
    elif key.startswith(("lora:", "model:")):
        kind, name = key.split(":", 1)
        for node, spec in graph.items():
            inputs = spec.get("inputs") if isinstance(spec, dict) else None
            if not isinstance(inputs, dict):
                continue
            for field_name, value in inputs.items():
                if isinstance(value, str) and (value == name or Path(value).name == name):
                    if kind == "model":
                        found.append((node, field_name))
                    else:
                        found += [(node, s) for s in ("strength_model", "strength_clip")
                                  if literal(node, s)]
    elif "." in key:
        node, name = key.split(".", 1)
        if literal(node, name):
            found = [(node, name)]
    if not found:
        raise UsageError(f"{key!r} names no input of the executed graph",
                         hint="use NODE.INPUT (see `repro export TARGET --format api`), or "
                              "seed, steps, cfg, sampler, scheduler, denoise, lora:NAME, "
                              "model:NAME")
    return found


def plan(graph: dict[str, Any], params: Sequence[tuple[str, list[Any]]], *, grid: bool
         ) -> list[dict[str, Any]]:
    """The changes of each run: ``[{key: value}]`` (one key each unless ``grid``)."""
    if not params:
        raise UsageError("nothing to vary", hint="give --seed A..B, --seeds N or --set KEY=V,...")
    if len(params) > 1 and not grid:
        raise UsageError("vary changes one parameter at a time",
                         hint="give one of --seed/--seeds/--set, or --grid for every "
                              "combination")
    for key, _values in params:
        targets(graph, key)
    keys = [k for k, _ in params]
    runs = [dict(zip(keys, combo, strict=True))
            for combo in itertools.product(*(v for _, v in params))]
    if len(runs) > MAX_RUNS:
        raise UsageError(f"{len(runs)} runs: at most {MAX_RUNS}")
    return runs


def apply(graph: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(graph)
    for key, value in changes.items():
        for node, name in targets(out, key):
            out[node]["inputs"][name] = value
    return out


def vary(repo: Repository, record: Record, *, seed: str | None = None,
         seeds: int | None = None, set: Sequence[str] = (), grid: bool = False,
         comfyui: str | None = None, checkout: bool = False, force: bool = False,
         output_dir: Path | None = None, sheet: Path | None = None,
         progress: Progress | None = None,
         rng: Callable[[], int] = lambda: random.SystemRandom().randrange(2**32)
         ) -> VaryResult:
    """Run ``record``'s prompt once per value; ``seeds`` draws that many random seeds
    (recorded in each record). Runs that fail are reported and the others go on."""
    job = recipe(repo, record)
    params: list[tuple[str, list[Any]]] = []
    if seed is not None:
        params.append(("seed", parse_seed_range(seed)))
    if seeds is not None:
        if not 0 < seeds <= MAX_RUNS:
            raise UsageError(f"--seeds {seeds}: give 1 to {MAX_RUNS}")
        params.append(("seed", [rng() for _ in range(seeds)]))
    params += [parse_set(s) for s in set]
    runs = plan(job.graph, params, grid=grid)
    from repro.api.rerun import _make_ready

    _make_ready(repo, record, checkout=checkout, force=force)
    runner = runner_for(repo, comfyui)
    check_nodes(runner, job)
    runner.free()
    result = VaryResult(record.id, " x ".join(k for k, _ in params))
    for n, changes in enumerate(runs):
        one = Recipe(apply(job.graph, changes), job.workflow)
        value: Any = changes if grid else next(iter(changes.values()))
        label = ", ".join(f"{k}={v}" for k, v in changes.items())
        try:
            ran = run_job(repo, runner, one, output_dir=output_dir, progress=progress,
                          links=[Parent(record.id, "variation-of", changes)],
                          label=label, step=(n, len(runs)))
        except JobFailed as exc:
            result.runs.append({"value": value, "record": None, "outcome": "failed",
                                "reason": str(exc)})
            continue
        first = ran.captured[0] if ran.captured else None
        result.runs.append({"value": value, "record": first.id if first else None,
                            "path": first.path if first else None,
                            "records": [c.id for c in ran.captured], "outcome": "captured"})
        if progress is not None:
            progress(f"{label}: captured", n + 1, len(runs))
    if sheet is not None:
        from repro.api.sheet import contact_sheet

        items = [(_label(r["value"]), repo.load_record(r["record"]))
                 for r in result.runs if r["record"]]
        contact_sheet(repo, record, items, sheet)
        result.sheet = str(sheet)
    return result


def _label(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


@dataclass(frozen=True)
class Made:
    """Outputs ``vary`` made from a record, grouped by what changed."""

    parameter: str
    records: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {"parameter": self.parameter, "records": list(self.records)}


def made_variations(repo: Repository, record: Record) -> list[Made]:
    """Children of ``record`` linked ``variation-of``, grouped by the changed keys."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for child_id in repo.index.children(record.id):
        child = repo.load_record(child_id)
        for p in child.parents:
            if p.id == record.id and p.relation == "variation-of":
                changed = dict(p.changed or {})
                key = " x ".join(sorted(changed)) or "?"
                value = changed if len(changed) != 1 else next(iter(changed.values()))
                groups.setdefault(key, []).append({"id": child.id, "path": child.output.path,
                                                   "value": value, "level": child.level})
    return [Made(k, tuple(sorted(v, key=lambda m: (str(m["value"]), m["id"]))))
            for k, v in sorted(groups.items())]
