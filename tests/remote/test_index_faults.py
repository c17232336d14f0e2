"""A remote index that is damaged or lists what is gone: one clear line with a hint,
exit 11, nothing taken into the store; `repro remote check` finds it, `--repair`
writes a new HEAD without it, and a push lists the records again."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from repro.api.repository import Repository
from repro.objects.hashing import hash_bytes
from repro.remote import index as rindex
from repro.remote.folder import FolderRemote
from tests.helpers import make_output, run, run_json


@pytest.fixture
def pushed(capsys: pytest.CaptureFixture[str], project: Path,
           tmp_path: Path) -> tuple[Path, list[str]]:
    """The project's two records pushed to the folder remote ``origin`` at tmp/nas."""
    paths = [make_output(project, f"a{i}.png", seed=40 + i) for i in range(2)]
    ids = [r["id"] for r in run_json(capsys, "-C", project, "add", *paths)["records"]]
    (tmp_path / "nas").mkdir()
    run(capsys, "-C", project, "remote", "add", "origin", tmp_path / "nas")
    assert run_json(capsys, "-C", project, "push")["records"]
    return tmp_path / "nas", ids


def _lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


def _clone_fails(capsys: pytest.CaptureFixture[str], nas: Path, dest: Path, says: str) -> None:
    code, _, err = run(capsys, "clone", nas, dest)
    lines = _lines(err)
    assert code == 11, err
    assert len(lines) == 2 and says in lines[0], err
    assert lines[1].startswith("hint:") and "repro remote check origin --repair" in lines[1]
    repo = Repository.discover(dest)
    assert list(repo.store) == [] and list(repo.index.iter_ids()) == []


def _repair_then_push_again(capsys: pytest.CaptureFixture[str], project: Path, nas: Path,
                            tmp_path: Path, ids: list[str], says: str, *,
                            resent: bool = True) -> None:
    code, out, _ = run(capsys, "-C", project, "remote", "check", "origin")
    assert code == 1 and says in out and "--repair" in out
    found = run_json(capsys, "-C", project, "remote", "check", "origin", "--repair")
    assert found["repaired"] and not found["ok"]
    assert run_json(capsys, "-C", project, "remote", "check", "origin")["ok"]
    again = run_json(capsys, "-C", project, "push")
    # listed again from the store that has them
    assert sorted(again["records"]) == (sorted(ids) if resent else [])
    run_json(capsys, "clone", nas, tmp_path / "after")
    assert set(Repository.discover(tmp_path / "after").index.iter_ids()) == set(ids)


def test_a_segment_whose_bytes_are_not_its_hash(
        capsys: pytest.CaptureFixture[str], project: Path, tmp_path: Path,
        pushed: tuple[Path, list[str]]) -> None:
    nas, ids = pushed
    (seg,) = (nas / "index/seg").iterdir()
    data = bytearray(seg.read_bytes())
    data[10] ^= 1
    seg.chmod(0o644)
    seg.write_bytes(bytes(data))
    _clone_fails(capsys, nas, tmp_path / "laptop", "holds other bytes")
    _repair_then_push_again(capsys, project, nas, tmp_path, ids, "holds other bytes")


def test_a_segment_that_is_not_one(capsys: pytest.CaptureFixture[str], project: Path,
                                   tmp_path: Path, pushed: tuple[Path, list[str]]) -> None:
    nas, ids = pushed
    remote = FolderRemote(nas)
    junk = b'{"objects": "not a table"}'
    remote.put_if_absent(rindex.segment_key(hash_bytes(junk)), junk)
    head = rindex.read_head(remote)
    bad = rindex.Head(head.id, [*head.entries,
                                rindex.Entry(hash_bytes(junk), head.total, head.total + 1, 9)])
    remote.replace(rindex.HEAD, bad.to_bytes(), head.version)
    _clone_fails(capsys, nas, tmp_path / "laptop", "is damaged (not a segment)")
    # the records of the good segment stay listed throughout: nothing to send again
    _repair_then_push_again(capsys, project, nas, tmp_path, ids, "is damaged (not a segment)",
                            resent=False)


def test_a_listed_pack_that_is_gone(capsys: pytest.CaptureFixture[str], project: Path,
                                    tmp_path: Path, pushed: tuple[Path, list[str]]) -> None:
    nas, ids = pushed
    remote = FolderRemote(nas)
    (entry,) = rindex.read_head(remote).entries
    where = rindex.fetch_segment(remote, entry.seg).objects
    (pack,) = {nas / rindex.pack_key(p) for p, _, _ in where.values() if p} - {
        nas / rindex.pack_key(str(where[ids[0]][0]))}  # the outputs', not the records' pack
    pack.unlink()
    _clone_fails(capsys, nas, tmp_path / "laptop", f"lists packs/{pack.name}, but the remote")
    _repair_then_push_again(capsys, project, nas, tmp_path, ids, f"missing: packs/{pack.name}")


def test_a_damaged_head(capsys: pytest.CaptureFixture[str], project: Path, tmp_path: Path,
                        pushed: tuple[Path, list[str]]) -> None:
    nas, ids = pushed
    (nas / "index/HEAD").write_bytes(b"{not json")
    code, _, err = run(capsys, "-C", project, "push")
    lines = _lines(err)
    assert code == 11 and len(lines) == 2 and "index/HEAD is damaged" in lines[0]
    assert "move index/HEAD aside" in lines[1]
    (nas / "index/HEAD").rename(nas / "HEAD.damaged")  # as the hint says
    assert sorted(run_json(capsys, "-C", project, "push")["records"]) == sorted(ids)
    assert run_json(capsys, "-C", project, "push")["objects"] == 0


def test_a_check_of_a_sound_remote_finds_nothing(
        capsys: pytest.CaptureFixture[str], project: Path,
        pushed: tuple[Path, list[str]]) -> None:
    found = run_json(capsys, "-C", project, "remote", "check")
    assert found["ok"] and found["records"] == 2 and found["keys"] == 2  # records pack, others
    assert not found["repaired"] and found["damaged"] == [] and found["missing"] == []


@pytest.mark.parametrize("body", [
    {"objects": {"../../../etc/passwd": [None, 0, 5]}, "records": [], "tags": []},
    {"objects": {"a" * 64: ["../x", 0, 5]}, "records": [], "tags": []},
    {"objects": {}, "records": ["../x"], "tags": []},
    {"objects": {}, "records": [], "tags": ["../../refs/x"]},
])
def test_a_segment_naming_keys_outside_the_remote_is_refused(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, pushed: tuple[Path, list[str]],
        body: dict[str, object]) -> None:
    nas, _ = pushed
    remote = FolderRemote(nas)
    data = orjson.dumps(body)
    remote.put_if_absent(rindex.segment_key(hash_bytes(data)), data)
    head = rindex.read_head(remote)
    bad = rindex.Head(head.id, [*head.entries,
                                rindex.Entry(hash_bytes(data), head.total, head.total + 1, 9)])
    remote.replace(rindex.HEAD, bad.to_bytes(), head.version)
    def outside() -> list[Path]:  # what is neither the clone nor the project's own store
        return sorted(p for p in tmp_path.rglob("*")
                      if "laptop" not in p.parts and ".repro" not in p.parts)

    before = outside()
    _clone_fails(capsys, nas, tmp_path / "laptop", "is damaged (not a segment)")
    assert outside() == before
