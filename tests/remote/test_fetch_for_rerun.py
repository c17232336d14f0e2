"""A clone that has the records but not the models: `checkout` and `rerun --checkout`
fetch the recorded model version from the remote, check its hash before using it,
and refuse one whose bytes are wrong (exit 11, nothing stored or written). Against
the fake ComfyUI, with a folder remote and with SeaweedFS."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from repro.api.repository import Repository
from tests.api.rerun.conftest import Toy, fake, toy  # noqa: F401 (the fixtures, by name)
from tests.helpers import run, run_json
from tests.remote.conftest import S3Engine


def _laptop(capsys: pytest.CaptureFixture[str], job: Toy, tmp_path: Path,
            url: tuple[str, list[str]]) -> tuple[Path, str]:
    """The toy job pushed, then cloned without models onto a "laptop" whose ComfyUI
    (the same folder) has lost the model file; the model version's id."""
    assert run(capsys, "-C", job.project, "remote", "add", "origin", url[0], *url[1])[0] == 0
    run_json(capsys, "-C", job.project, "push")
    laptop = tmp_path / "laptop"
    run_json(capsys, "clone", url[0], laptop, *url[1], "--no-models")
    shutil.copyfile(job.project / ".reprorc", laptop / ".reprorc")
    [model] = [m.blake3 for m in job.record.models if m.blake3]
    job.model.unlink()
    assert model not in Repository.discover(laptop).store
    return laptop, model


def test_rerun_in_a_clone_fetches_the_model_from_the_remote(
        request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str], tmp_path: Path,
        remote_url: tuple[str, list[str]]) -> None:
    job: Toy = request.getfixturevalue("toy")
    laptop, model = _laptop(capsys, job, tmp_path, remote_url)
    code, out, err = run(capsys, "-C", laptop, "rerun", job.record.id)
    assert code == 10 and out == "" and len(err.splitlines()) == 2
    assert "remote origin has it (as of last sync)" in err
    assert "`--checkout` fetches the recorded versions from remote origin" in err

    result = run_json(capsys, "-C", laptop, "rerun", job.record.id, "--checkout")
    assert result["outcome"] == "exact"
    assert str(job.model) in [str(laptop / r["path"]) for r in result["restored"]]
    repo = Repository.discover(laptop)
    repo.store.check(model)
    assert repo.stat_cache.hashes(job.model, ("blake3",))["blake3"] == model
    assert [r.outcome for r in repo.receipts.of(job.record.id)] == ["exact"]


def _spoil(url: tuple[str, list[str]], model: bytes, engine: S3Engine | None) -> None:
    """Flip one byte of the model's bytes wherever the remote keeps them (a pack or a
    loose object), as a damaged disk or a tampering proxy would."""
    if engine is None:
        root = Path(url[0])
        for path in [p for p in root.rglob("*") if p.is_file()
                     and {"packs", "objects"} & set(p.relative_to(root).parts)]:
            data = bytearray(path.read_bytes())
            at = bytes(data).find(model)
            if at >= 0:
                data[at + len(model) // 2] ^= 0xFF
                path.chmod(0o644)
                path.write_bytes(bytes(data))
        return
    client, (bucket, prefix) = engine.client(), url[0][len("s3://"):].split("/", 1)
    for item in client.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]:
        data = bytearray(client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
        at = bytes(data).find(model)
        if at >= 0:
            data[at + len(model) // 2] ^= 0xFF
            client.put_object(Bucket=bucket, Key=item["Key"], Body=bytes(data))


def test_wrong_bytes_from_the_remote_are_reported_and_never_used(
        request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str], tmp_path: Path,
        remote_url: tuple[str, list[str]]) -> None:
    job: Toy = request.getfixturevalue("toy")
    model_bytes = job.model.read_bytes()
    laptop, model = _laptop(capsys, job, tmp_path, remote_url)
    engine = request.getfixturevalue("s3_env") if remote_url[1] else None
    _spoil(remote_url, model_bytes, engine)

    for command in (["checkout", job.record.id], ["rerun", job.record.id, "--checkout"]):
        code, out, err = run(capsys, "-C", laptop, *command)
        assert code == 11, (command, err)
        assert out == "" and err.startswith("error: ") and len(err.splitlines()) == 2
        assert f"remote origin: the remote returned wrong bytes for object {model}" in err
        assert "nothing was stored from it" in err and "hint: " in err
    repo = Repository.discover(laptop)
    assert model not in repo.store and not job.model.exists()
    assert repo.receipts.of(job.record.id) == []
