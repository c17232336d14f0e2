"""Real ComfyUI graphs (tests/fixtures/corpus, MIT / 0BSD-style, see its MANIFEST.md)
moved into the containers of issue 15 item 1 read the same as from their PNG.

The graphs are the corpus files' own ``prompt``/``workflow`` texts; only the
carrier changes (Civitai's JPEG UserComment, an IFD0 ``{prompt, workflow}``
UserComment in WebP, bare JSON in Make/ImageDescription), written with Pillow
as those writers do (tests/capture/formats.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from repro.capture import Generation, read_bytes, read_file
from tests.capture import formats as f
from tests.paths import CORPUS

GRAPHS = sorted(p for p in (CORPUS / "comfyui").glob("*.png")
                if b"tEXtprompt\0" in p.read_bytes())


def _same(a: Generation, b: Generation) -> None:
    assert a.params == b.params
    assert [m.to_dict() for m in a.models] == [m.to_dict() for m in b.models]
    assert (a.level, a.reasons, a.metadata) == (b.level, b.reasons, b.metadata)


@pytest.mark.parametrize("path", GRAPHS, ids=lambda p: p.name)
@pytest.mark.parametrize("carrier", ["civitai-jpeg", "wrapper-webp", "bare-webp"])
def test_real_graph_in_exif_reads_like_the_png(path: Path, carrier: str) -> None:
    png = read_file(path)
    assert png.format == "comfyui-png"
    graph = json.loads(png.blobs["prompt"])
    flow = json.loads(png.blobs["workflow"]) if "workflow" in png.blobs else None
    if carrier == "civitai-jpeg":
        if len(json.dumps(graph)) * 2 > 60_000:
            pytest.skip("too big for one JPEG APP1 segment, as for Civitai's own files")
        gen = read_bytes(f.comfy_civitai_jpeg(graph))
        png = read_bytes(f.png({"prompt": json.dumps(graph)}))  # no workflow in this carrier
    elif carrier == "wrapper-webp":
        wrapper = {"prompt": graph, **({"workflow": flow} if flow else {})}
        gen = read_bytes(f.exif_image("WEBP", ifd0={f.USER_COMMENT: json.dumps(wrapper)}))
    else:
        tags = {f.MAKE: json.dumps(graph)}
        if flow:
            tags[f.IMAGE_DESCRIPTION] = json.dumps(flow)
        gen = read_bytes(f.exif_image("WEBP", ifd0=tags))
    assert gen.format == "comfyui-exif"
    _same(gen, png)
