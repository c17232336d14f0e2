"""Hostile and broken input: every outcome is a Generation or a ReproError, memory stays bounded."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repro.capture import Generation, read_bytes, read_file
from repro.capture.extracted import MAX_CHUNK
from repro.errors import LimitExceeded, NotAnImage, ReproError, TruncatedFile
from tests.capture import builders as b
from tests.paths import CORPUS, ROOT

CORPUS_FILES = sorted(p for p in CORPUS.glob("*/*") if p.suffix in (".png", ".jpg", ".jpeg", ".webp")
                      and p.stat().st_size < 300_000)
assert len(CORPUS_FILES) >= 10, f"{CORPUS} has {len(CORPUS_FILES)} small images"
SEEDS = [p.read_bytes() for p in CORPUS_FILES] + [
    b.png([b.text("parameters", "x\nSteps: 1, Seed: 2, Sampler: Euler")]),
    b.jpeg(b.app1_exif(b.tiff({}, {0x9286: (b.UNDEFINED, b.user_comment("a\nSteps: 1, Seed: 2, "
                                                                       "Sampler: E"))}))),
    b.webp_animated_with_exif(b.tiff({0x0110: (b.ASCII, b'prompt:{"1": {}}\0')})),
    b.png([b.chunk(b"caBX", b.c2pa_store("OpenAI", [{"action": "c2pa.created"}]))]),
]


def _outcome(data: bytes) -> None:
    try:
        result = read_bytes(data)
    except ReproError:
        return
    assert isinstance(result, Generation)
    result.to_dict()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(SEEDS), data=st.data())
def test_mutated_and_truncated_files(seed: bytes, data: st.DataObject) -> None:
    mutated = bytearray(seed)
    for _ in range(data.draw(st.integers(0, 8))):
        if not mutated:
            break
        at = data.draw(st.integers(0, len(mutated) - 1))
        mutated[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(mutated)))
    _outcome(bytes(mutated[:cut]) if data.draw(st.booleans()) else bytes(mutated))


@settings(max_examples=300, deadline=None)
@given(prefix=st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF\0\0\0\0WEBP",
                               b"GIF89a"]), tail=st.binary(max_size=400))
def test_random_bytes(prefix: bytes, tail: bytes) -> None:
    _outcome(prefix + tail)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300))
def test_random_parameters_text(text: str) -> None:
    _outcome(b.png([b.itxt("parameters", text)]))
    _outcome(b.png([b.itxt("prompt", text), b.itxt("workflow", text)]))
    _outcome(b.jpeg(b.app1_exif(b.tiff({}, {0x9286: (b.UNDEFINED, b.user_comment(text))}))))


def test_ztxt_bomb_is_refused() -> None:
    bomb = zlib.compressobj(9)
    compressed = b"".join(bomb.compress(bytes(1 << 20)) for _ in range(1024)) + bomb.flush()
    data = b.png([b.chunk(b"zTXt", b"parameters\0\0" + compressed)])
    with pytest.raises(LimitExceeded, match="inflates"):
        read_bytes(data)


def test_text_chunk_claiming_200_mb_is_refused_without_reading() -> None:
    fake = b.png()[:33] + (200 * 1024 * 1024).to_bytes(4, "big") + b"tEXt" + b"k\0v"
    with pytest.raises(LimitExceeded, match="limit"):
        read_bytes(fake)


def test_real_200_mb_text_chunk_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    head = b.png()[:33]
    length = 200 * 1024 * 1024
    with open(path, "wb") as handle:
        handle.write(head + length.to_bytes(4, "big") + b"tEXt" + b"parameters\0")
        handle.seek(33 + 8 + length + 4 - 1)  # sparse: no 200 MB written
        handle.write(b"\0")
        handle.write(b.chunk(b"IEND", b""))
    assert length > MAX_CHUNK
    with pytest.raises(LimitExceeded):
        read_file(path)


def test_deeply_nested_json_prompt() -> None:
    deep = '{"a":' * 100_000 + "1" + "}" * 100_000
    with pytest.raises(LimitExceeded, match="deep"):
        read_bytes(b.png([b.chunk(b"tEXt", b"prompt\0" + deep.encode())]))


def test_truncated_png_zero_byte_and_plain_jpeg(tmp_path: Path) -> None:
    with pytest.raises(TruncatedFile):
        read_bytes(b.png()[:40])
    empty = tmp_path / "zero.png"
    empty.write_bytes(b"")
    with pytest.raises(NotAnImage, match="empty"):
        read_file(empty)
    gen = read_bytes(b.jpeg())
    assert (gen.tool, gen.metadata, gen.level) == (None, "none", "none")
    assert gen.media_type == "image/jpeg"


_RSS_SCRIPT = textwrap.dedent("""
    import resource, sys, zlib
    sys.path.insert(0, sys.argv[1])
    from tests.capture import builders as b
    from repro.capture import read_bytes, read_file
    from repro.errors import LimitExceeded
    bomb = zlib.compressobj(9)
    payload = b"".join(bomb.compress(bytes(1 << 20)) for _ in range(1024)) + bomb.flush()
    cases = [b.png([b.chunk(b"zTXt", b"parameters\\0\\0" + payload)]),
             b.png([b.chunk(b"iTXt", b"prompt\\0\\x01\\0\\0\\0" + payload)]),
             b.png([b.chunk(b"tEXt", b"prompt\\0" + b'{"a":' * 100000 + b"1" + b"}" * 100000)])]
    for data in cases:
        try:
            read_bytes(data)
        except LimitExceeded:
            pass
        else:
            raise SystemExit("not refused")
    try:
        read_file(sys.argv[2])
    except LimitExceeded:
        pass
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
""")


def test_peak_memory_of_bombs_stays_bounded(tmp_path: Path) -> None:
    huge = tmp_path / "huge.png"
    with open(huge, "wb") as handle:
        handle.write(b.png()[:33] + (200 * 1024 * 1024).to_bytes(4, "big") + b"tEXt")
        handle.truncate(210 * 1024 * 1024)
    # Linux carries the peak RSS of the process that execs into the new
    # program, so a child spawned straight from pytest would report pytest's
    # own peak. A small launcher in between gives the reader a clean count.
    launcher = ("import subprocess, sys; subprocess.run([sys.executable, '-c', sys.argv[1], "
                "*sys.argv[2:]], check=True)")
    result = subprocess.run([sys.executable, "-c", launcher, _RSS_SCRIPT, str(ROOT), str(huge)],
                            capture_output=True, text=True, check=True, timeout=120)
    peak_kib = int(result.stdout.strip().splitlines()[-1])
    assert peak_kib < 200 * 1024, f"peak RSS {peak_kib} KiB"


def test_deeply_nested_jumbf_is_refused_not_a_recursion_error() -> None:
    import struct

    from repro.capture.c2pa import parse_jumbf
    from repro.errors import InputError

    data = b""
    for _ in range(3000):
        data = struct.pack(">I4s", 8 + len(data), b"jumb") + data
    with pytest.raises(InputError, match="nested too deeply"):
        parse_jumbf(data)
