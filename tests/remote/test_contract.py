"""One contract for every remote (folder, S3 on SeaweedFS), as dulwich tests every
object store with one class."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from repro.errors import NotFound, UnsafePath
from repro.remote.base import CasConflict, Remote
from repro.remote.folder import FolderRemote
from repro.remote.spec import RemoteSpec


@pytest.fixture(params=["folder", "s3"])
def remote(request: pytest.FixtureRequest, tmp_path: Path) -> Remote:
    if request.param == "folder":
        (tmp_path / "nas").mkdir()
        return FolderRemote(tmp_path / "nas")
    engine = request.getfixturevalue("s3_env")
    from repro.remote.s3 import S3Remote

    bucket = engine.new_bucket()
    return S3Remote(RemoteSpec("t", f"s3://{bucket}/team", endpoint=engine.endpoint))


class TestRemoteContract:
    def test_put_if_absent_creates_once(self, remote: Remote) -> None:
        assert not remote.exists("objects/ab/cd")
        assert remote.put_if_absent("objects/ab/cd", b"one")
        assert not remote.put_if_absent("objects/ab/cd", b"two")
        assert remote.get("objects/ab/cd") == b"one"
        assert remote.exists("objects/ab/cd")

    def test_get_missing_is_not_found(self, remote: Remote) -> None:
        with pytest.raises(NotFound):
            remote.get("objects/no/pe")
        assert remote.read_versioned("index/HEAD") is None

    @pytest.mark.parametrize("key", ["../x", "a/../../x", "/etc/passwd", "a//b", "", "a/./b"])
    def test_keys_cannot_leave_the_prefix(self, remote: Remote, key: str) -> None:
        with pytest.raises(UnsafePath):
            remote.put_if_absent(key, b"x")
        with pytest.raises(UnsafePath):
            remote.get(key)

    def test_compare_and_swap(self, remote: Remote) -> None:
        v1 = remote.replace("tags/t", b"a", None)
        with pytest.raises(CasConflict):
            remote.replace("tags/t", b"b", None)  # create when it exists
        v2 = remote.replace("tags/t", b"b", v1)
        with pytest.raises(CasConflict):
            remote.replace("tags/t", b"c", v1)  # a lost update is refused
        got = remote.read_versioned("tags/t")
        assert got is not None and got == (b"b", v2)

    def test_large_file_round_trip(self, remote: Remote, tmp_path: Path) -> None:
        src = tmp_path / "big.bin"
        src.write_bytes(bytes(range(256)) * 4096 * 3)
        remote.put_file("objects/aa/big", src)
        size = src.stat().st_size
        dest = tmp_path / "back.bin"
        assert remote.get_file("objects/aa/big", dest, size) == size
        assert dest.read_bytes() == src.read_bytes()
        assert remote.get_file("objects/aa/big", dest, size) == 0  # whole already
        assert dest.read_bytes() == src.read_bytes()

    def test_a_stream_reads_a_range(self, remote: Remote) -> None:
        remote.put_if_absent("packs/p", bytes(range(256)) * 8)
        with remote.stream("packs/p", 300, 310) as body:
            assert body.read(10) == bytes(range(44, 54))
        with remote.stream("packs/p") as body:
            assert body.read(3) == bytes([0, 1, 2])
        with pytest.raises(NotFound), remote.stream("packs/none"):
            pass

    def test_racing_swaps_one_wins_each_round(self, remote: Remote) -> None:
        start = remote.replace("index/HEAD", b"0", None)
        wins: list[Any] = []

        def attempt(n: int) -> None:
            try:
                remote.replace("index/HEAD", str(n).encode(), start)
                wins.append(n)
            except CasConflict:
                pass

        threads = [threading.Thread(target=attempt, args=(n,)) for n in range(1, 6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(wins) == 1
        got = remote.read_versioned("index/HEAD")
        assert got is not None and got[0] == str(wins[0]).encode()
