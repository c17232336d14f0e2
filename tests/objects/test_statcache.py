"""The stat cache: a file is hashed once until its stat changes; racy entries are re-hashed."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from repro.objects.hashing import hash_file
from repro.objects.statcache import RACY_NS, StatCache


class Counting:
    def __init__(self) -> None:
        self.calls: list[tuple[Path, set[str]]] = []

    def __call__(self, path: Path, schemes: set[str]) -> dict[str, str]:
        self.calls.append((path, set(schemes)))
        out = {"blake3": hash_file(path)}
        if "sha256" in schemes:
            import hashlib

            out["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
        return {k: v for k, v in out.items() if k in schemes}


@pytest.fixture
def cache(tmp_path: Path) -> tuple[StatCache, Counting]:
    compute = Counting()
    return StatCache(sqlite3.connect(tmp_path / "index.sqlite"), compute), compute


def old_file(tmp_path: Path, data: bytes, name: str = "m.bin") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    past = time.time() - 3600
    os.utime(p, (past, past))
    return p


def test_second_lookup_reads_nothing(tmp_path: Path, cache: tuple[StatCache, Counting]) -> None:
    sc, compute = cache
    p = old_file(tmp_path, b"model v1")
    first = sc.hashes(p)
    assert first == {"blake3": hash_file(p)}
    assert sc.hashes(p) == first
    assert len(compute.calls) == 1


def test_only_missing_schemes_are_computed(tmp_path: Path,
                                           cache: tuple[StatCache, Counting]) -> None:
    sc, compute = cache
    p = old_file(tmp_path, b"model v1")
    sc.hashes(p, ("blake3",))
    both = sc.hashes(p, ("blake3", "sha256"))
    assert set(both) == {"blake3", "sha256"}
    assert compute.calls[1][1] == {"sha256"}
    sc.hashes(p, ("blake3", "sha256"))
    assert len(compute.calls) == 2


def test_a_changed_file_is_rehashed(tmp_path: Path, cache: tuple[StatCache, Counting]) -> None:
    sc, _ = cache
    p = old_file(tmp_path, b"model v1")
    v1 = sc.hashes(p)["blake3"]
    p.write_bytes(b"model v2")  # same size, new mtime and ctime
    assert sc.hashes(p)["blake3"] == hash_file(p) != v1


def test_same_size_same_mtime_but_new_ctime_is_rehashed(tmp_path: Path,
                                                        cache: tuple[StatCache, Counting]) -> None:
    sc, compute = cache
    p = old_file(tmp_path, b"AAAA")
    st = p.stat()
    sc.hashes(p)
    p.write_bytes(b"BBBB")
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))  # a tool restoring the old mtime
    assert sc.hashes(p)["blake3"] == hash_file(p)
    assert len(compute.calls) == 2


def test_racy_entries_are_rehashed(tmp_path: Path, cache: tuple[StatCache, Counting]) -> None:
    sc, compute = cache
    p = tmp_path / "fresh.bin"
    p.write_bytes(b"just written")  # mtime == now: within RACY_NS of hashing
    sc.hashes(p)
    sc.hashes(p)
    assert len(compute.calls) == 2, "a racy entry must not be trusted"
    past = time.time_ns() - 2 * RACY_NS
    os.utime(p, ns=(past, past))
    sc.hashes(p)  # re-hashed once after the stat change, then trusted
    sc.hashes(p)
    assert len(compute.calls) == 3


def test_find_by_prefix(tmp_path: Path, cache: tuple[StatCache, Counting]) -> None:
    sc, _ = cache
    p = old_file(tmp_path, b"checkpoint bytes")
    h = sc.hashes(p, ("blake3", "sha256"))
    [hit] = list(sc.find("sha256", h["sha256"][:10]))
    assert hit.path == str(p) and hit.hashes["blake3"] == h["blake3"]
    assert list(sc.find("sha256", h["sha256"][:7])) == []  # too short to trust
    other = ("1" if h["sha256"][0] == "0" else "0") + h["sha256"][1:10]
    assert list(sc.find("sha256", other)) == []
