"""Recognise generators from collected payloads and build one ``Generation``.

Classification is by keys and content, never by file extension (FORMATS.md
§5). A file may carry several schemes (a ComfyUI graph plus an A1111 string
from a saver node): each is read, the most authoritative one becomes the
record, and hashes the A1111 string recorded are merged into the ComfyUI
models they name.

Only the tests that recognise a scheme are imported with this module; a
reader is imported when a file carries its scheme (``add`` of a ComfyUI PNG
imports neither the A1111, InvokeAI nor SwarmUI readers).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from repro import jsonsafe
from repro.capture.comfyui_shapes import comfy_objects, is_api_graph, is_ui_workflow
from repro.capture.common import find_model
from repro.capture.containers import Extracted
from repro.capture.exif import IMAGE_DESCRIPTION, MAKE, MAKER_NOTE, MODEL, SOFTWARE
from repro.capture.fooocus import (
    fooocus_from_dict,
    is_ruinedfooocus,
    looks_like_fooocus,
    parse_fooocus,
    ruinedfooocus_from_dict,
)
from repro.capture.novelai import is_novelai, parse_novelai
from repro.capture.others import (
    is_drawthings,
    looks_like_easydiffusion,
    looks_like_midjourney,
    parse_c2pa,
    parse_drawthings,
    parse_easydiffusion,
    parse_midjourney,
)
from repro.capture.spaces import looks_like_space, parse_space
from repro.capture.types import Generation
from repro.capture.xmp import xmp_field
from repro.errors import InputError, LimitExceeded
from repro.record.values import value_class

#: Authority of each scheme, most authoritative first.
RANK = {
    "comfyui": 0, "invokeai": 1, "swarmui": 2, "fooocus": 3, "novelai": 4, "a1111": 5,
    "easydiffusion": 6, "diffusers": 7, "drawthings": 8, "comfyui-workflow": 9, "midjourney": 10,
    "c2pa": 11,
}


@value_class
class Candidate:
    """A scheme found in a container, with the function that reads it."""

    scheme: str
    container: str
    build: Callable[[], Generation]

    @property
    def format(self) -> str:
        return f"{self.scheme.removesuffix('-workflow')}-{self.container}"


def _comfy(graph: dict[str, Any] | None, flow: dict[str, Any] | None) -> Generation:
    from repro.capture.comfyui import comfyui_from_objects  # the largest reader: when needed

    return comfyui_from_objects(graph, flow)


def _a1111(text: str) -> Generation:
    from repro.capture.a1111 import parse_a1111

    return parse_a1111(text)


def _swarmui(data: dict[str, Any]) -> Generation:
    from repro.capture.swarmui import swarm_from_dict

    return swarm_from_dict(data)


def _json_object(text: str | None, what: str, warnings: list[str], *,
                 arrays: bool = False) -> dict[str, Any] | None:
    """The JSON object in ``text``, or None (invalid JSON is a warning, too deep an error).
    With ``arrays``, a JSON array is parsed too (a nesting bomb is the same error
    as in an object) and said not to be what was expected."""
    if text is None:
        return None
    if arrays and text.lstrip().startswith("["):
        try:
            jsonsafe.loads(text, what=what)
        except LimitExceeded:
            raise
        except InputError:
            return None  # plain text that starts with "[": not JSON, nothing to say
        warnings.append(f"{what} is a JSON array, not an object: not read")
        return None
    if not text.lstrip().startswith("{"):
        return None
    try:
        value = jsonsafe.loads(text, what=what)
    except LimitExceeded:
        raise
    except InputError as exc:
        warnings.append(str(exc))
        return None
    return value if isinstance(value, dict) else None


def classify_parameters(text: str, container: str, warnings: list[str], *,
                        fooocus_scheme: str | None = None,
                        parsed: dict[str, Any] | None = None) -> Candidate | None:
    """A ``parameters``-like payload: a ComfyUI graph, SwarmUI, (Ruined)Fooocus, a
    diffusers app, Easy Diffusion or NovelAI JSON, else A1111 text. ``parsed`` is
    the JSON object of ``text`` when the caller has already parsed it."""
    if not text.strip():
        return None
    data = parsed if parsed is not None else _json_object(text, f"{container} parameters",
                                                           warnings)
    if data is not None:
        graph, flow = comfy_objects(data)
        if graph is not None:
            return Candidate("comfyui", container, lambda: _comfy(graph, flow))
        if flow is not None:
            return Candidate("comfyui-workflow", container, lambda: _comfy(None, flow))
        if "sui_image_params" in data:
            return Candidate("swarmui", container, lambda: _swarmui(data))
        if is_ruinedfooocus(data):
            return Candidate("fooocus", container, lambda: ruinedfooocus_from_dict(data))
        if fooocus_scheme is not None or looks_like_fooocus(data):
            return Candidate("fooocus", container, lambda: fooocus_from_dict(data))
        if looks_like_space(data):
            return Candidate("diffusers", container, lambda: parse_space(data))
        if looks_like_easydiffusion(data):
            return Candidate("easydiffusion", container, lambda: parse_easydiffusion(data))
        if is_novelai(data):
            return Candidate("novelai", container, lambda: parse_novelai(data))
        warnings.append(f"{container}: JSON parameters of an unknown generator were kept raw")
        return None
    if fooocus_scheme is not None:
        return Candidate("fooocus", container, lambda: parse_fooocus(text, fooocus_scheme))
    return Candidate("a1111", container, lambda: _a1111(text))


def find_candidates(ex: Extracted) -> list[Candidate]:
    """Every generator scheme the collected payloads carry."""
    found: list[Candidate] = []
    texts = ex.texts
    container = "png" if ex.media_type == "image/png" else "exif"
    prompt, workflow = texts.get("prompt"), texts.get("workflow")
    # A graph whose shape was checked is parsed once (big graphs are most of the work).
    prompt_object: dict[str, Any] | None = None
    workflow_object: dict[str, Any] | None = None
    exif = ex.exif
    if exif is not None:
        # ComfyUI WebP: "prompt:{...}" in Model (0x0110), "workflow:{...}" in Make
        # (0x010F); other savers use 0x010E/0x010F, in any letter case.
        for tag in (MODEL, MAKE, IMAGE_DESCRIPTION):
            value = exif.text(tag)
            if value is None:
                continue
            head = value[:9].lower()
            if head.startswith("prompt:") and prompt is None:
                prompt = value[7:]
                ex.blobs.setdefault("prompt", prompt.encode("utf-8"))
                container = "exif"
            elif head.startswith("workflow:") and workflow is None:
                workflow = value[9:]
                ex.blobs.setdefault("workflow", workflow.encode("utf-8"))
            elif value.startswith("{") and tag != MODEL:
                # Bare JSON (ComfyUI_SaveImgAdv): only the shape tells which graph it is.
                bare = _json_object(value, "EXIF graph", ex.warnings)
                if prompt is None and is_api_graph(bare):
                    prompt, prompt_object, container = value, bare, "exif"
                    ex.blobs.setdefault("prompt", value.encode("utf-8"))
                elif workflow is None and is_ui_workflow(bare):
                    workflow, workflow_object = value, bare
                    ex.blobs.setdefault("workflow", value.encode("utf-8"))
    comfy_prompt = (prompt_object if prompt_object is not None else
                    _json_object(prompt, "ComfyUI prompt", ex.warnings, arrays=True))
    comfy_workflow = (workflow_object if workflow_object is not None else
                      _json_object(workflow, "ComfyUI workflow", ex.warnings, arrays=True))
    if comfy_prompt is not None:
        found.append(Candidate("comfyui", container, lambda: _comfy(comfy_prompt, comfy_workflow)))
    elif comfy_workflow is not None:
        found.append(Candidate("comfyui-workflow", container, lambda: _comfy(None, comfy_workflow)))
    found.extend(_invokeai(texts))
    if is_novelai(texts):
        found.append(Candidate("novelai", "png", lambda: parse_novelai(texts)))
    if "parameters" in texts:
        scheme = texts.get("fooocus_scheme")
        candidate = classify_parameters(texts["parameters"], "png", ex.warnings,
                                        fooocus_scheme=scheme.strip() if scheme else None)
        if candidate is not None:
            found.append(candidate)
    if "metadata" in texts and "parameters" not in texts:
        candidate = _space_metadata(texts["metadata"])
        if candidate is not None:
            found.append(candidate)
    if comfy_prompt is None and looks_like_easydiffusion(texts):
        found.append(Candidate("easydiffusion", "png", lambda: parse_easydiffusion(texts)))
    if exif is not None:
        schemes = {c.scheme for c in found}
        found.extend(c for c in _exif_candidates(ex)
                     if not (c.scheme.startswith("comfyui") and "comfyui" in schemes))
    if ex.xmp is not None:
        xmp = ex.xmp
        if is_drawthings(xmp):
            found.append(Candidate("drawthings", "xmp", lambda: parse_drawthings(xmp)))
        description = xmp_field(xmp, "dc:description")
        if description and looks_like_midjourney(description):
            found.append(Candidate("midjourney", "xmp", lambda: parse_midjourney(description)))
    if ex.comment is not None:
        candidate = _comment_candidate(ex.comment, ex.warnings)
        if candidate is not None:
            found.append(candidate)
    for key in ("Description", "Comment"):
        text = texts.get(key)
        if text and not is_novelai(texts) and looks_like_midjourney(text):
            found.append(Candidate("midjourney", "png", partial(parse_midjourney, text)))
            break
    if ex.jumbf:
        jumbf = ex.jumbf
        found.append(Candidate("c2pa", "jumbf", lambda: parse_c2pa(jumbf)))
    return found


def _space_metadata(text: str) -> Candidate | None:
    """A Space's settings in the PNG text ``metadata`` (``repro.capture.spaces``). Many
    programs write a ``metadata`` chunk of their own: any other content is not ours
    to judge, so it is passed over without a warning."""
    if not text.lstrip().startswith("{") or (
            "num_inference_steps" not in text and "guidance_scale" not in text):
        return None
    try:
        data = jsonsafe.loads(text, what="PNG metadata")
    except LimitExceeded:
        raise
    except InputError:
        return None
    if not isinstance(data, dict) or not looks_like_space(data):
        return None
    return Candidate("diffusers", "png", lambda: parse_space(data))


#: PNG text keys of InvokeAI's schemes, the first one found is read.
INVOKEAI_KEYS = ("invokeai_metadata", "sd-metadata", "invokeai_graph", "Dream")


def _invokeai(texts: dict[str, str]) -> list[Candidate]:
    key = next((key for key in INVOKEAI_KEYS if key in texts), None)
    if key is None:
        return []
    from repro.capture import invokeai

    readers: dict[str, Callable[[str], Generation]] = {
        "invokeai_metadata": invokeai.parse_invokeai_metadata,
        "sd-metadata": invokeai.parse_sd_metadata,
        "invokeai_graph": invokeai.parse_invokeai_graph,
        "Dream": invokeai.parse_dream,
    }
    return [Candidate("invokeai", "png", partial(readers[key], texts[key]))]


def _exif_candidates(ex: Extracted) -> list[Candidate]:
    assert ex.exif is not None
    exif = ex.exif
    found: list[Candidate] = []
    comment = exif.user_comment()
    software = exif.text(SOFTWARE) or ""
    description = exif.text(IMAGE_DESCRIPTION)
    if comment is not None:
        text, raw, where = comment
        ex.blobs.setdefault("exif", raw)
        data = _json_object(text, "EXIF UserComment", ex.warnings) if "{" in text[:16] else None
        novelai = _novelai_exif(data, software, description)
        if novelai is not None:
            return [novelai]
        scheme = None
        if software.startswith("Fooocus"):
            scheme = (exif.text(MAKER_NOTE, ifd=where) or exif.text(MAKER_NOTE) or "fooocus").strip()
        candidate = classify_parameters(text, "exif", ex.warnings, fooocus_scheme=scheme,
                                        parsed=data)
        if candidate is not None:
            found.append(candidate)
    model = exif.text(MODEL)
    if model and model.lstrip().startswith("{"):
        data = _json_object(model, "EXIF Model", ex.warnings)
        if data is not None and "sui_image_params" in data:  # SwarmUI before 0.5.8
            found.append(Candidate("swarmui", "exif", lambda: _swarmui(data)))
    if description and looks_like_midjourney(description):
        found.append(Candidate("midjourney", "exif", lambda: parse_midjourney(description)))
    return found


def _novelai_exif(data: dict[str, Any] | None, software: str,
                  description: str | None) -> Candidate | None:
    """NovelAI in EXIF: a UserComment JSON (``data``) of all its PNG fields, or of
    ``Comment`` alone with ``Software`` in IFD0; the prompt may be only in ImageDescription."""
    if data is None or not (is_novelai(data) or software.startswith("NovelAI")):
        return None
    fields: dict[str, Any] = dict(data) if is_novelai(data) else {"Software": software,
                                                                  "Comment": data}
    if description and not fields.get("Description"):
        fields["Description"] = description
    return Candidate("novelai", "exif", lambda: parse_novelai(fields))


def _comment_candidate(text: str, warnings: list[str]) -> Candidate | None:
    if text.lstrip().startswith("{"):
        return classify_parameters(text, "comment", warnings)
    if "Steps: " in text:
        return Candidate("a1111", "comment", lambda: _a1111(text))
    if looks_like_midjourney(text):
        return Candidate("midjourney", "comment", lambda: parse_midjourney(text))
    return None


def assemble(ex: Extracted, candidates: list[Candidate]) -> Generation:
    """Read every candidate and build the file's ``Generation`` (most authoritative first)."""
    warnings = list(ex.warnings)
    built: list[tuple[Candidate, Generation]] = []
    for candidate in sorted(candidates, key=lambda c: RANK[c.scheme]):
        try:
            gen = candidate.build()
        except LimitExceeded:
            raise
        except InputError as exc:
            warnings.append(f"{candidate.format}: metadata unreadable ({exc})")
            continue
        built.append((candidate, gen))
    if not built:
        result = Generation(tool=None, metadata="none", level="none",
                            reasons=["the file carries no generation metadata"])
    else:
        primary_candidate, result = built[0]
        result.format = primary_candidate.format
        formats = [c.format for c, _ in built]
        result.formats = list(dict.fromkeys(formats))
        for candidate, other in built[1:]:
            warnings.extend(other.warnings)
            if primary_candidate.scheme == "comfyui" and candidate.scheme == "a1111":
                merge_recorded_hashes(result, other)
            if primary_candidate.scheme == "comfyui" and candidate.scheme == "swarmui":
                from repro.capture.swarmui import merge_into_comfy

                merge_into_comfy(result, other)
            if other.provenance:
                for key, value in other.provenance.items():
                    result.provenance.setdefault(key, value)
    if ex.xmp:
        source_type = xmp_field(ex.xmp, "Iptc4xmpExt:DigitalSourceType")
        if source_type:
            result.provenance.setdefault("iptc_digital_source_type", source_type)
    result.warnings = warnings + ex.damaged + result.warnings
    if ex.damaged and result.level == "full":
        result.level = "approximate"
        result.reasons = [*result.reasons, *ex.damaged]
    blobs = dict(ex.blobs)
    blobs.update(result.blobs)
    result.blobs = blobs
    result.media_type, result.width, result.height = ex.media_type, ex.width, ex.height
    return result


def merge_recorded_hashes(comfy: Generation, a1111: Generation) -> None:
    """Copy hashes an A1111 string recorded onto the ComfyUI models it names."""
    for model in a1111.models:
        if not model.hashes:
            continue
        target = None
        if model.name:
            target = find_model(comfy.models, model.role, model.name) or find_model(
                comfy.models, None, model.name)
        if target is None and model.role == "checkpoint":
            mains = [m for m in comfy.models if m.role in ("checkpoint", "unet")]
            if len(mains) == 1:
                target = mains[0]
        if target is not None:
            for key, value in model.hashes.items():
                target.hashes.setdefault(key, value)
