"""C2PA manifests signed and validated with the C2PA reference library.

``c2pa-python`` (the binding of c2pa-rs) does the cryptography, the JUMBF
embedding and the validation; repro only says what the manifest holds. It is
an optional dependency (``pip install 'repro[c2pa]'``), imported on first use.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from repro.errors import InputError, ReproError

#: Media types a manifest is embedded in (the library supports these and more).
SIGNABLE = ("image/png", "image/jpeg", "image/webp")

#: A repro assertion's label: which record this file is the output of.
RECORD_LABEL = "org.repro.record"


class CredentialError(ReproError):
    """The C2PA library refused a key, a certificate or a manifest."""

    exit_code = 4


@dataclass(frozen=True)
class Ingredient:
    """A file the output came from: ``parentOf`` (the img2img source),
    ``componentOf`` (an input image) or ``inputTo`` (a model version, given by
    its hashes in ``metadata``: its bytes are not read)."""

    title: str
    relationship: str
    media_type: str
    data: bytes = b""
    metadata: dict[str, Any] = field(default_factory=dict)


def _library() -> Any:
    try:
        import c2pa
    except ImportError:
        raise CredentialError("C2PA support is not installed",
                              hint="pip install 'repro[c2pa]'") from None
    return c2pa


def signing_alg(cert_pem: bytes) -> str:
    """The C2PA signing algorithm for a certificate's key (es256 when unknown)."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    except ImportError:
        return "es256"
    try:
        key = x509.load_pem_x509_certificate(cert_pem).public_key()
    except ValueError:
        raise CredentialError("the certificate is not a PEM certificate",
                              hint="--cert takes the signing certificate then its CA chain, "
                                   "in PEM (-----BEGIN CERTIFICATE-----)") from None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return {256: "es256", 384: "es384", 521: "es512"}.get(key.curve.key_size, "es256")
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519"
    if isinstance(key, rsa.RSAPublicKey):
        return "ps256"
    return "es256"


def sign(data: bytes, media_type: str, manifest: dict[str, Any],
         ingredients: Sequence[Ingredient], *, cert_pem: bytes, key_pem: bytes) -> bytes:
    """``data`` with ``manifest`` embedded and signed (the data is not otherwise changed)."""
    if media_type not in SIGNABLE:
        raise InputError(f"a {media_type} file cannot carry a C2PA manifest here",
                         hint=f"C2PA export supports {', '.join(SIGNABLE)}")
    c2pa = _library()
    try:
        signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(
            signing_alg(cert_pem).encode(), cert_pem, key_pem, None))
        builder = c2pa.Builder(manifest)
        for ing in ingredients:
            spec: dict[str, Any] = {"title": ing.title, "relationship": ing.relationship,
                    "format": ing.media_type}
            if ing.metadata:
                spec["metadata"] = ing.metadata
            builder.add_ingredient(spec, ing.media_type, io.BytesIO(ing.data))
        out = io.BytesIO()
        builder.sign(signer, media_type, io.BytesIO(data), out)
    except c2pa.C2paError as exc:
        raise CredentialError(f"the C2PA library refused to sign: {exc}",
                              hint=_refusal_hint(str(exc))) from None
    return out.getvalue()


def _refusal_hint(message: str) -> str:
    """What to change, from the library's reason for refusing."""
    if "certificate" in message:
        return ("C2PA takes an end-entity signing certificate within its validity, issued "
                "by a CA (not self-signed), with a signing extended key usage, followed by "
                "its CA chain")
    return "check that --key is the private key of --cert's first certificate, in PEM"


@dataclass(frozen=True)
class Validation:
    """What the C2PA library says of a file's manifest."""

    state: str  # Valid, Invalid or Trusted
    signer: dict[str, Any]
    generator: list[str]
    digital_source_type: list[str]
    ingredients: list[dict[str, Any]]
    problems: list[str]
    record: dict[str, Any] | None

    @property
    def valid(self) -> bool:
        return self.state in ("Valid", "Trusted")

    @property
    def changed_after_signing(self) -> bool:
        return any(p.startswith(("assertion.dataHash", "assertion.boxesHash",
                                 "assertion.bmffHash")) for p in self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "valid": self.valid,
                "changed_after_signing": self.changed_after_signing,
                "signer": self.signer, "generator": self.generator,
                "digital_source_type": self.digital_source_type,
                "ingredients": self.ingredients, "problems": self.problems,
                "record": self.record}


def validate(data: bytes, media_type: str) -> Validation | None:
    """The library's validation of a file's manifest; None when it carries none."""
    c2pa = _library()
    try:
        reader = c2pa.Reader(media_type, io.BytesIO(data))
    except c2pa.C2paError as exc:
        if "ManifestNotFound" in type(exc).__name__:
            return None
        raise InputError(f"its C2PA manifest cannot be read: {exc}",
                         hint="the manifest store is damaged; the file may still be "
                              "read without --c2pa") from None
    report = json.loads(reader.json())
    active = report.get("manifests", {}).get(report.get("active_manifest") or "", {})
    actions = [a for assertion in active.get("assertions", [])
               if str(assertion.get("label", "")).startswith("c2pa.actions")
               for a in (assertion.get("data") or {}).get("actions", [])]
    sig = active.get("signature_info") or {}
    problems = [v.get("code", "?") for v in report.get("validation_status") or []]
    record = next((a.get("data") for a in active.get("assertions", [])
                   if a.get("label") == RECORD_LABEL), None)
    return Validation(
        state=str(reader.get_validation_state()),
        signer={k: sig[k] for k in ("issuer", "common_name", "alg", "time") if k in sig},
        generator=_generators(active),
        digital_source_type=sorted({a["digitalSourceType"] for a in actions
                                    if a.get("digitalSourceType")}),
        ingredients=[_ingredient(i, report) for i in active.get("ingredients", [])],
        problems=[p for p in problems if p != "signingCredential.untrusted"],
        record=record,
    )


def _ingredient(ingredient: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    """An ingredient as ``inspect`` shows it; one with credentials of its own (an
    input signed by another tool) also says who signed them, what made it and
    whether they validate, as the library checked them when it read the file."""
    out: dict[str, Any] = {"title": ingredient.get("title"),
                           "relationship": ingredient.get("relationship"),
                           "has_manifest": bool(ingredient.get("active_manifest"))}
    own = report.get("manifests", {}).get(ingredient.get("active_manifest") or "")
    if own is None:
        return out
    sig = own.get("signature_info") or {}
    results = (ingredient.get("validation_results") or {}).get("activeManifest") or {}
    problems = [f.get("code", "?") for f in results.get("failure") or []]
    problems = [p for p in problems if p != "signingCredential.untrusted"]
    out.update(signer=sig.get("common_name"), generator=_generators(own),
               valid=not problems, problems=problems)
    return out


def _generators(manifest: dict[str, Any]) -> list[str]:
    """The claim generators of a manifest, as "name version"."""
    return [" ".join(str(g.get(k)) for k in ("name", "version") if g.get(k))
            for g in manifest.get("claim_generator_info", [])]
