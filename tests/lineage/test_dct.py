"""The fingerprint's bits are those every earlier capture stored: the integer DCT
decides them only when it can tell, and agrees with a frozen copy of the float
code that made them, on the corpus and on images of many sizes, modes and kinds
(noise, scenes, gradients, flat and mirror-symmetric ones, which are exact ties)."""

from __future__ import annotations

import io
import math
import random
from collections.abc import Iterator
from operator import mul
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from repro.demo import scene
from repro.lineage import dct
from repro.lineage.perceptual import looks_of, prints_of
from tests.paths import CORPUS

# --- The fingerprint as main computed it at 4c63385 (lineage/perceptual.py), frozen.
_SIDE, _KEEP = 32, 8
_BASIS = [[math.cos(math.pi * (2 * x + 1) * u / (2 * _SIDE)) for x in range(_SIDE)]
          for u in range(_KEEP)]


def _frozen_reduced(im: Image.Image) -> Image.Image:
    factor = min(im.width, im.height) // (_SIDE * 4)
    if factor > 1 and im.mode in ("RGB", "RGBA", "L", "LA"):
        return im.reduce(factor)
    return im


def frozen_phash(im: Image.Image) -> int:
    im = _frozen_reduced(im)
    if im.mode in ("RGBA", "LA", "PA", "P"):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)
    small = im.convert("L").resize((_SIDE, _SIDE), Image.Resampling.BOX)
    data = small.tobytes()
    rows = [data[y * _SIDE:(y + 1) * _SIDE] for y in range(_SIDE)]
    columns = [[sum(map(mul, basis, row)) for row in rows] for basis in _BASIS]
    coeffs = [sum(map(mul, _BASIS[v], column)) for v in range(_KEEP) for column in columns]
    ac = coeffs[1:]
    median = sorted(ac)[len(ac) // 2]
    bits = 0
    for c in coeffs:
        bits = (bits << 1) | (c > median)
    return bits
# ---


def png(im: Image.Image) -> bytes:
    out = io.BytesIO()
    im.save(out, format="PNG")
    return out.getvalue()


def decoded(data: bytes, draft: str | None = None) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    if draft and im.format == "JPEG":
        im.draft(draft, (_SIDE * 4, _SIDE * 4))
    im.load()
    return im


def noise(r: random.Random, size: tuple[int, int], mode: str) -> Image.Image:
    bands = len(Image.new(mode, (1, 1)).getbands())
    return Image.frombytes(mode, size, r.randbytes(size[0] * size[1] * bands))


def varied_images() -> Iterator[tuple[str, Image.Image]]:
    """Noise, scenes and gradients of several sizes and modes, and exact ties."""
    r = random.Random(17)
    sizes = [(32, 32), (1, 1), (7, 5), (33, 31), (64, 48), (300, 200), (512, 512), (40, 900)]
    for size in sizes:
        for mode in ("L", "LA", "RGB", "RGBA"):
            yield f"noise {mode} {size}", noise(r, size, mode)
    for seed in range(12):
        picture = scene(seed, (r.choice([256, 320, 512]), r.choice([256, 384, 512])))
        yield f"scene {seed}", picture
        yield f"scene {seed} P", picture.convert("P")
        yield f"scene {seed} 1", picture.convert("1")
        yield f"scene {seed} small", picture.resize((32, 32))
    transparent = noise(r, (64, 64), "RGBA")
    transparent.putalpha(Image.linear_gradient("L").resize((64, 64)))
    yield "gradient alpha", transparent
    for angle in (0, 30, 45, 90, 135):
        yield f"gradient {angle}", Image.linear_gradient("L").rotate(angle).resize((96, 64))
    for shade in (0, 1, 128, 255):
        yield f"flat {shade}", Image.new("L", (32, 32), shade)
    half = noise(r, (16, 32), "L")
    mirrored = Image.new("L", (32, 32))
    mirrored.paste(half, (0, 0))
    mirrored.paste(ImageOps.mirror(half), (16, 0))
    yield "mirror-symmetric", mirrored
    yield "mirror-symmetric top to bottom", mirrored.transpose(Image.Transpose.ROTATE_90)
    checker = Image.frombytes("L", (32, 32), bytes(255 * ((x + y) % 2)
                                                   for y in range(32) for x in range(32)))
    yield "checkerboard", checker


VARIED = list(varied_images())


@pytest.mark.parametrize(("name", "image"), VARIED, ids=[name for name, _ in VARIED])
def test_fingerprints_are_the_frozen_codes(name: str, image: Image.Image) -> None:
    data = png(image)
    prints = prints_of(data)
    looks = looks_of(data)
    assert prints is not None and looks is not None
    want = frozen_phash(decoded(data))
    assert prints[1] == want
    assert looks.fingerprint == want


def corpus_images() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*")
                  if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp") and p.stat().st_size)


def test_the_corpus_fingerprints_are_the_frozen_codes() -> None:
    compared = 0
    for path in corpus_images():
        data = path.read_bytes()
        try:
            full, drafted = decoded(data), decoded(data, "RGB")
        except OSError:
            assert prints_of(data) is None, path
            continue
        prints = prints_of(data, full=True)
        looks = looks_of(data)
        assert prints is not None and looks is not None, path
        assert prints[1] == frozen_phash(full), path
        assert looks.fingerprint == frozen_phash(drafted), path
        compared += 1
    assert compared >= 25


def grey(im: Image.Image) -> bytes:
    return im.convert("L").resize((_SIDE, _SIDE), Image.Resampling.BOX).tobytes()


def test_the_integers_decide_most_images_and_leave_exact_ties_to_the_floats() -> None:
    r = random.Random(5)
    decided = 0
    for _ in range(300):
        pixels = r.randbytes(_SIDE * _SIDE)
        bits = dct.exact_bits(pixels)
        assert bits is None or bits == dct.reference_bits(pixels)
        decided += bits is not None
    for seed in range(20):
        pixels = grey(scene(seed))
        assert dct.exact_bits(pixels) == dct.reference_bits(pixels)
    assert decided == 300
    flat = bytes([200] * _SIDE * _SIDE)
    mirrored = b"".join(half + half[::-1] for half in
                        (r.randbytes(_SIDE // 2) for _ in range(_SIDE)))
    for tie in (flat, mirrored):
        assert dct.exact_bits(tie) is None
        assert dct.fingerprint_bits(tie) == dct.reference_bits(tie)


def test_the_integer_coefficients_are_within_the_bound_of_the_floats() -> None:
    r = random.Random(9)
    extremes = [bytes([255]) * 1024, bytes(1024),
                bytes(255 * ((x + y) % 2) for y in range(32) for x in range(32)),
                bytes(255 * (x < 16) for y in range(32) for x in range(32))]
    for pixels in [r.randbytes(1024) for _ in range(50)] + extremes:
        floats = dct.reference_coefficients(pixels)
        units = dct.integer_coefficients(pixels)
        worst = max(abs(f * 2**dct.UNIT - (u - 2**63)) for f, u in zip(floats, units, strict=True))
        assert worst <= dct.MAX_ERROR


@pytest.mark.parametrize(("weights", "scale"), [(dct._WEIGHTS_Y, dct.SCALE_Y),
                                                 (dct._WEIGHTS_X, dct.SCALE_X)])
def test_every_weight_the_folds_apply_is_within_the_bound_of_its_float(
        weights: list[list[int]], scale: int) -> None:
    # The transform is linear: its weights are what it makes of each sample alone.
    for i in range(_SIDE):
        alone = [0] * _SIDE
        alone[i] = 1
        applied = dct._transform(alone, weights, [0] * _KEEP)
        for f in range(_KEEP):
            assert abs(applied[f] / 2**scale - _BASIS[f][i]) <= 3.2e-15
