"""``repro rerun``: submit a record's executed prompt again, capture what comes
back (relation ``rerun-of``), compare the decoded pixels, and keep a receipt.

Steps: check as ``verify`` does (with consent, ``checkout`` puts the recorded
models and inputs back, fetching a version the store lacks from a remote that has
it, checked against its hash); ``POST /free`` so that no loader cached under the same
file name serves other weights; ``POST /prompt`` with the recorded editor
workflow as ``extra_pnginfo``; follow the job; capture its outputs; compare
the output saved by the same node with the recorded one; explain a
difference from what differs between the two records; store the receipt.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repro.api.add import iso_time
from repro.api.comfyjob import Progress, Ran, recipe, run_job, runner_for
from repro.api.repository import Repository
from repro.errors import ConflictError, JobFailed, NotReproducible
from repro.lineage.pixeldiff import compare_pixels
from repro.record import Parent, Record
from repro.record.receipt import Receipt


@dataclass
class RerunResult:
    target: str
    outcome: str
    records: list[dict[str, Any]] = field(default_factory=list)
    max_abs_diff: int | None = None
    psnr: float | None = None
    diff_image: str | None = None
    explain: list[str] = field(default_factory=list)
    receipt: Receipt | None = None
    #: seconds ``POST /free`` took (None: not asked)
    freed: float | None = None
    restored: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "records": self.records, "outcome": self.outcome,
                "max_abs_diff": self.max_abs_diff, "psnr": self.psnr,
                "diff_image": self.diff_image, "explain": self.explain,
                "receipt": self.receipt.show() if self.receipt else None,
                "freed": self.freed, "restored": self.restored}


def rerun(repo: Repository, record: Record, *, comfyui: str | None = None,
          checkout: bool = False, force: bool = False, free: bool = True,
          output_dir: Path | None = None, progress: Progress | None = None) -> RerunResult:
    """Re-run ``record`` on the ComfyUI server at ``comfyui`` (default: config)."""
    job = recipe(repo, record)
    restored = _make_ready(repo, record, checkout=checkout, force=force)
    runner = runner_for(repo, comfyui)
    from repro.api.comfyjob import check_nodes

    check_nodes(runner, job)
    freed = runner.free() if free else None
    at = iso_time(time.time())
    try:
        ran = run_job(repo, runner, job, links=[Parent(record.id, "rerun-of")],
                      output_dir=output_dir, progress=progress, label="rerun")
    except JobFailed as exc:
        receipt = Receipt(target=record.id, at=at, outcome="failed", explain=(str(exc),),
                          freed=freed)
        with repo.lock():
            repo.receipts.add(receipt)
        raise
    result = _judge(repo, record, ran, at=at, freed=freed)
    result.restored = restored
    return result


def _make_ready(repo: Repository, record: Record, *, checkout: bool,
                force: bool) -> list[dict[str, Any]]:
    """Refuse a rerun that would not use the recorded bytes, unless ``checkout``
    may put them back; what checkout restored."""
    from repro.api.verify import verify

    check = verify(repo, record, reruns=False)
    if check.ready:
        return []
    if not checkout:
        remotes = sorted({r for m in check.models if m.location == "remote" for r in m.remotes})
        raise NotReproducible(
            f"{record.output.path}: not ready to re-run: " + "; ".join(check.reasons[:3]),
            hint=f"`--checkout` fetches the recorded versions from remote {', '.join(remotes)} "
                 "(each checked against its hash) and puts them back" if remotes else None)
    from repro.api.checkout import checkout as restore

    try:
        done = restore(repo, record, force=force, inputs=True)
    except ConflictError as exc:
        raise ConflictError(str(exc), hint="rerun --checkout --force stores the file "
                                           "on disk first, then restores") from None
    if done.unavailable:
        what = ", ".join(f"{u.get('role')} {u.get('name')}" for u in done.unavailable)
        raise NotReproducible(f"the recorded version is not available: {what}",
                              hint="it is neither in the store nor on a remote that answered "
                                   "(`repro verify` says where it is): put the file back and "
                                   "run again")
    check = verify(repo, record, reruns=False)
    if not check.ready:
        raise NotReproducible(f"{record.output.path}: still not ready after checkout: "
                              + "; ".join(check.reasons[:3]))
    return done.restored


def _judge(repo: Repository, record: Record, ran: Ran, *, at: str,
           freed: float | None) -> RerunResult:
    """Compare the counterpart of ``record`` among the new outputs; store the receipt."""
    node = _saving_node(repo, record)
    candidates = [(o, p) for o, p in ran.files if node is None or o.node == node] \
        or ran.files
    _out, path = candidates[0]
    captured = {Path(c.path): c for c in ran.captured}
    mine = captured.get(path)
    diff = compare_pixels(repo.store.read_bytes(record.output.blake3), path)
    explain: list[str] = []
    diff_id = None
    if not diff.identical:
        if diff.image is not None:
            diff_id = repo.store.put_bytes(diff.image)
        if diff.sizes is not None:
            explain.append(f"sizes differ: recorded {diff.sizes[0]}, now {diff.sizes[1]}")
        explain += explain_difference(record, mine.record if mine else None)
    outcome = "exact" if diff.identical else "different"
    receipt = Receipt(target=record.id, at=at, outcome=outcome,
                      records=tuple(c.id for c in ran.captured),
                      max_abs_diff=diff.max_abs_diff, psnr=diff.psnr, diff_image=diff_id,
                      explain=tuple(explain), environment=ran.environment, freed=freed)
    with repo.lock():
        receipt = repo.receipts.add(receipt)
    records = [{**c.to_dict(), "compared": Path(c.path) == path} for c in ran.captured]
    return RerunResult(record.id, outcome, records, diff.max_abs_diff, diff.psnr, diff_id,
                       explain, receipt, freed)


def _saving_node(repo: Repository, record: Record) -> str | None:
    """The node that saved ``record``'s output, from its ``/history`` blob."""
    from repro.api.comfyjob import _blob_json
    from repro.comfyui.history import saved_outputs

    history = _blob_json(repo, record.source.blobs.get("history"))
    if history is None or not record.output.path:
        return None
    name = Path(record.output.path).name
    for out in saved_outputs(history):
        if out.filename == name:
            return out.node
    return None


def explain_difference(before: Record, after: Record | None) -> list[str]:
    """The likely causes of a difference: what differs between the record and its
    rerun's environment (device, torch and CUDA, ComfyUI commit, custom nodes,
    precision and attention flags) and model and input versions."""
    if after is None:
        return ["the new output is the recorded one's bytes, yet its pixels differ: "
                "run `repro fsck`"]
    out: list[str] = []
    old = {(m.role, m.name): m.blake3 for m in before.models}
    for m in after.models:
        was = old.get((m.role, m.name))
        if was and m.blake3 and was != m.blake3:
            out.append(f"{m.role} {m.name}: another version was loaded (recorded "
                       f"{was[:12]}..., now {m.blake3[:12]}...)")
    inputs = {i.name: i.blake3 for i in before.inputs}
    for i in after.inputs:
        if inputs.get(i.name) and i.blake3 and inputs[i.name] != i.blake3:
            out.append(f"input {i.name}: other bytes than recorded")
    if before.environment is not None and after.environment is not None:
        from repro.environment.comfyui_server import noise_device
        from repro.environment.compare import compare_environments

        diffs = compare_environments(before.environment, after.environment,
                                     noise_device=noise_device(before.tool.name,
                                                               before.params.to_dict()))
        out += [f"{d['reason']} (recorded {d['recorded']}, now {d['current']})"
                for d in diffs if d["changes_output"]]
    elif before.environment is None:
        out.append("the record has no environment to compare with: device, torch and "
                   "ComfyUI versions may differ")
    if not out:
        out.append("no recorded difference explains it: the graph may use a "
                   "non-deterministic node, or a cached model served other weights")
    return out

