"""Thumbnails travel with push, pull and clone: a clone draws its graph page from
the thumbnails the pushing store made, decoding no output; a remote pushed without
them (older code) clones as before, its thumbnails made on first need."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from repro.api.repository import Repository
from repro.lineage.thumbnails import Thumbnails
from repro.objects.hashing import hash_bytes
from repro.remote.index_cache import IndexCache
from repro.remote.segment import Segment, parse_segment
from tests.helpers import make_output, run, run_json


def _capture(capsys: pytest.CaptureFixture[str], root: Path, n: int) -> list[str]:
    paths = [make_output(root, f"img_{i:05d}.png", seed=2000 + i) for i in range(n)]
    return [r["id"] for r in run_json(capsys, "-C", root, "add", *paths)["records"]]


def _outputs(repo: Repository, ids: list[str]) -> list[str]:
    return [repo.load_record(rid).output.blake3.rsplit(":", 1)[-1] for rid in ids]


def _pushed_without_thumbnails(capsys: pytest.CaptureFixture[str], project: Path, remote: Path,
                               n: int, *, seed: int) -> list[str]:
    """``n`` records pushed to ``remote`` as from a store older code pushed: one image an
    ``add`` (the thumbnails' refs are files; a batch would link them in its pack), the
    refs removed before the push."""
    ids = [run_json(capsys, "-C", project, "add", make_output(
        project, f"old_{seed + i}.png", seed=seed + i))["records"][0]["id"] for i in range(n)]
    shutil.rmtree(project / ".repro" / "thumbs")
    run(capsys, "-C", project, "remote", "add", "origin", remote)
    run_json(capsys, "-C", project, "push")
    return ids


def _count_decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Outputs whose thumbnail is made by decoding them, from now on."""
    decoded: list[str] = []
    make = Thumbnails.make

    def counted(self: Thumbnails, output: str) -> bytes | None:
        decoded.append(output)
        return make(self, output)

    monkeypatch.setattr(Thumbnails, "make", counted)
    return decoded


def test_a_clone_has_the_thumbnails_and_decodes_no_output(
        capsys: pytest.CaptureFixture[str], project: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, remote_url: tuple[str, list[str]]) -> None:
    ids = _capture(capsys, project, 3)
    run(capsys, "-C", project, "remote", "add", "origin", remote_url[0], *remote_url[1])
    run_json(capsys, "-C", project, "push")
    other = tmp_path / "laptop"
    run_json(capsys, "clone", remote_url[0], other, *remote_url[1])

    mine, theirs = Repository.discover(project), Repository.discover(other)
    outputs = _outputs(mine, ids)
    for output in outputs:  # the object came across, linked to its output in the pack
        thumb = mine.thumbs.id_of(output)        # the clone's store keeps (no ref file)
        assert thumb is not None and theirs.store.made_of(output) == thumb
        assert not theirs.thumbs.ref(output).exists()
        assert theirs.thumbs.id_of(output) == thumb
        assert theirs.thumbs.read(output) == mine.thumbs.read(output)
        theirs.store.check(thumb)

    decoded = _count_decodes(monkeypatch)
    page = other / "graph.html"
    assert run(capsys, "-C", other, "graph", "--format", "html", "-o", page)[0] == 0
    assert decoded == []
    assert page.read_text().count("data:image/webp;base64,") >= len(ids)


def test_a_remote_without_thumbnails_clones_and_makes_them_on_first_need(
        capsys: pytest.CaptureFixture[str], project: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, folder_remote: Path) -> None:
    ids = _pushed_without_thumbnails(capsys, project, folder_remote, 2, seed=2100)
    for seg in (folder_remote / "index" / "seg").iterdir():  # a segment as older code wrote
        assert "thumbs" not in orjson.loads(seg.read_bytes())

    other = tmp_path / "laptop"
    assert sorted(run_json(capsys, "clone", folder_remote, other)["records"]) == sorted(ids)
    theirs = Repository.discover(other)
    outputs = _outputs(theirs, ids)
    assert all(theirs.thumbs.id_of(o) is None for o in outputs)

    decoded = _count_decodes(monkeypatch)
    assert run(capsys, "-C", other, "graph", "--format", "html", "-o", other / "g.html")[0] == 0
    assert sorted(decoded) == sorted(outputs)
    assert all(theirs.thumbs.id_of(o) is not None for o in outputs)  # kept for next time


def test_a_thumbnail_with_wrong_bytes_is_refused(
        capsys: pytest.CaptureFixture[str], project: Path, tmp_path: Path,
        folder_remote: Path) -> None:
    ids = _capture(capsys, project, 1)
    run(capsys, "-C", project, "remote", "add", "origin", folder_remote)
    run_json(capsys, "-C", project, "push")
    mine = Repository.discover(project)
    thumb = mine.thumbs.id_of(_outputs(mine, ids)[0])
    assert thumb is not None
    cache = IndexCache(project / ".repro" / "remotes" / "origin" / "index.sqlite")
    pack, offset, size = cache.locations([thumb])[thumb]
    cache.close()
    assert pack is not None
    path = folder_remote / "packs" / f"{pack}.pack"
    data = bytearray(path.read_bytes())
    data[offset + size // 2] ^= 0xFF
    path.chmod(0o644)
    path.write_bytes(bytes(data))

    code, _, err = run(capsys, "clone", folder_remote, tmp_path / "laptop")
    assert code == 11 and "wrong bytes" in err and thumb in err
    theirs = Repository.discover(tmp_path / "laptop")
    assert thumb not in theirs.store and not (tmp_path / "laptop" / ".repro" / "thumbs").exists()


def test_segment_thumbnails_round_trip_and_merge() -> None:
    a, b, c, d = (hash_bytes(bytes([n])) for n in range(4))
    plain = Segment(records={a})
    assert b"thumbs" not in plain.to_bytes()  # the bytes older code gives it
    with_thumbs = Segment(records={a}, thumbs={a: b})
    data = with_thumbs.to_bytes()
    assert parse_segment(hash_bytes(data), data).thumbs == {a: b}
    plain.merge(with_thumbs)
    plain.merge(Segment(thumbs={a: c, d: c}))
    assert plain.thumbs == {a: b, d: c}


def test_thumbnails_made_after_a_push_go_with_a_push_of_all_or_of_a_target(
        capsys: pytest.CaptureFixture[str], project: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, folder_remote: Path) -> None:
    ids = _pushed_without_thumbnails(capsys, project, folder_remote, 3, seed=2200)
    assert run(capsys, "-C", project, "graph", "--format", "html", "-o", tmp_path / "g.html")[0] == 0
    mine = Repository.discover(project)
    outputs = _outputs(mine, ids)
    assert all(mine.thumbs.id_of(o) is not None for o in outputs)  # made here since

    plain = run_json(capsys, "-C", project, "push")  # reads only what is new: nothing
    assert plain["records"] == [] and plain["objects"] == 0
    one = run_json(capsys, "-C", project, "push", "origin", ids[0])
    assert one["records"] == [] and one["objects"] == 1 and one["packs"] == 1
    every = run_json(capsys, "-C", project, "push", "--all")
    assert every["records"] == [] and every["objects"] == 2
    assert run_json(capsys, "-C", project, "push", "--all")["objects"] == 0

    other = tmp_path / "laptop"
    run_json(capsys, "clone", folder_remote, other)
    theirs = Repository.discover(other)
    assert [theirs.thumbs.id_of(o) for o in outputs] == [mine.thumbs.id_of(o) for o in outputs]
    decoded = _count_decodes(monkeypatch)
    assert run(capsys, "-C", other, "graph", "--format", "html", "-o", other / "g.html")[0] == 0
    assert decoded == []
