"""``repro export --format c2pa``: a signed copy of an output for delivery.

The copy carries, before signing, an XMP packet with the IPTC digital source
type; then a C2PA manifest made from the record: a ``c2pa.created`` action with
the digital source type (``compositeWithTrainedAlgorithmicMedia`` when the
record has an img2img or inpainting source) and the generator as software
agent; the parent output as a ``parentOf`` ingredient, input images as
``componentOf`` (their own credentials kept), each model version as an
``inputTo`` ingredient carrying its hashes; a repro assertion with the record
id and the output's BLAKE3; the recipe (parameters, prompt) only when asked,
since a prompt can be a client's secret. repro never invents trust: the
certificate chain and key are the studio's own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repro import __version__
from repro.api.repository import Repository
from repro.credentials import xmp
from repro.credentials.c2pa_sign import RECORD_LABEL, SIGNABLE, Ingredient, sign
from repro.errors import ConflictError, InputError, NotFound, UsageError
from repro.objects.atomic import write_bytes
from repro.record import Record


@dataclass(frozen=True)
class Signed:
    path: str
    manifest: dict[str, Any]
    ingredients: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "manifest": self.manifest, "ingredients": self.ingredients}


def export_c2pa(repo: Repository, record: Record, *, output: Path, cert: Path | None = None,
                key: Path | None = None, recipe: bool = False) -> Signed:
    """Write a signed copy of ``record``'s output to ``output`` (a new file)."""
    cert = cert or repo.config.path("c2pa", "cert")
    key = key or repo.config.path("c2pa", "key")
    if cert is None or key is None:
        raise UsageError("no signing certificate and key",
                         hint="give --cert CHAIN.pem --key KEY.pem, or set [c2pa] cert and key "
                              "in .reprorc")
    cert_pem, key_pem = _read_pem(cert, "certificate"), _read_pem(key, "key")
    media_type = record.output.media_type or ""
    if media_type not in SIGNABLE:
        raise InputError(f"{record.output.path}: a {media_type or 'file of unknown type'} "
                         "cannot carry a C2PA manifest here",
                         hint=f"C2PA export supports {', '.join(SIGNABLE)}")
    if output.exists():
        raise ConflictError(f"{output} exists: export writes a new file",
                            hint="choose another -o, or remove the file first")
    try:
        data = repo.store.read_bytes(record.output.blake3)
    except NotFound:
        raise NotFound(f"the output of record {record.id[:12]} is no longer in the store",
                       hint="repro fsck --repair, or repro add the file again") from None
    composite = any(p.relation == "input" for p in record.parents) or any(
        i.role in ("init_image", "mask", "image") for i in record.inputs)
    source_type = xmp.COMPOSITE if composite else xmp.TRAINED
    data = xmp.with_xmp(data, media_type, xmp.packet(source_type, tool=_agent(record)["name"]))
    manifest = _manifest(record, source_type, output.name, recipe)
    ingredients = _ingredients(repo, record)
    signed = sign(data, media_type, manifest, ingredients, cert_pem=cert_pem, key_pem=key_pem)
    output.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(output, signed, tmp_dir=output.parent, mode=0o666 & ~_umask())
    return Signed(str(output), manifest, [{"title": i.title, "relationship": i.relationship}
                                          for i in ingredients])


def _read_pem(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the {what} {path}: {exc.strerror or exc}") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _agent(record: Record) -> dict[str, Any]:
    agent: dict[str, Any] = {"name": record.tool.name}
    if record.tool.version:
        agent["version"] = record.tool.version
    if record.tool.commit:
        agent["commit"] = record.tool.commit
    return agent


def _manifest(record: Record, source_type: str, title: str, recipe: bool) -> dict[str, Any]:
    facts: dict[str, Any] = {"record": record.id, "output_blake3": record.output.blake3,
                             "level": record.level}
    if recipe:
        facts["params"] = record.params.to_dict()
    return {
        "claim_generator_info": [{"name": "repro", "version": __version__}],
        "title": title,
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [{
                "action": "c2pa.created", "digitalSourceType": source_type,
                "softwareAgent": _agent(record),
                **({"when": record.captured.at} if record.captured.at else {}),
            }]}},
            {"label": RECORD_LABEL, "data": facts},
        ],
    }


def _ingredients(repo: Repository, record: Record) -> list[Ingredient]:
    found: list[Ingredient] = []
    for parent in record.parents:
        if parent.relation != "input":
            continue
        try:
            source = repo.load_record(parent.id)
            data = repo.store.read_bytes(source.output.blake3)
        except (NotFound, OSError):
            continue
        found.append(Ingredient(Path(source.output.path or parent.id).name, "parentOf",
                                source.output.media_type or "image/png", data))
    parent_outputs = {i.data for i in found}
    for entry in record.inputs:
        if not entry.blake3 or entry.blake3 not in repo.store:
            continue
        data = repo.store.read_bytes(entry.blake3)
        if data in parent_outputs:
            continue
        found.append(Ingredient(entry.name or entry.blake3[:12], "componentOf",
                                _media_type(data), data))
    for m in record.models:
        hashes = m.any_hashes()
        if not hashes:
            continue
        found.append(Ingredient(m.name or m.path or m.role, "inputTo", "application/octet-stream",
                                metadata={"role": m.role, "hashes": dict(hashes)}))
    return found


def _media_type(data: bytes) -> str:
    from repro.capture.containers import sniff

    return sniff(data[:16]) or "application/octet-stream"
