"""The A1111 reader is linear in the names it reads and bounded in memory
(issue 13, item 4)."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from repro.capture.a1111 import MAX_MODELS, parse_a1111
from repro.errors import LimitExceeded


def _infotext(n: int) -> str:
    prompt = "a fox " + " ".join(f"<lora:l{i}:0.5>" for i in range(n))
    hashes = ", ".join(f"l{i}: {i:012x}" for i in range(n))
    return (f'{prompt}\nNegative prompt: x\nSteps: 20, Seed: 1, Size: 64x64, Model: base, '
            f'Lora hashes: "{hashes}"')


def test_ten_thousand_lora_names_take_linear_time() -> None:
    n = MAX_MODELS - 1
    start = time.monotonic()
    gen = parse_a1111(_infotext(n))
    assert len(gen.models) == n + 1
    assert time.monotonic() - start < 3.0  # was 46 s: a scan per name


def test_a_25_mb_lora_hashes_field_is_refused_in_bounded_memory() -> None:
    big = ", ".join(f"l{i}: {i:012x}" for i in range(1_200_000))
    text = f'a fox\nNegative prompt: x\nSteps: 20, Seed: 1, Model: base, Lora hashes: "{big}"'
    tracemalloc.start()
    try:
        with pytest.raises(LimitExceeded, match="more than 10,000 models"):
            parse_a1111(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * len(text), peak / len(text)  # was 4.2 GB (170x) for 25 MB
