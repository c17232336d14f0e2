"""``repro vary``, ``variations`` of what it made, the contact sheet, ``export``,
and Ctrl-C in the middle of a run of variations."""

from __future__ import annotations

import orjson
import pytest

from repro.api.vary import vary
from repro.api.verify import verify
from tests.api.rerun.conftest import Toy
from tests.helpers import run, run_json


def test_vary_seed_makes_linked_records_that_variations_groups(
        toy: Toy, capsys: pytest.CaptureFixture[str]) -> None:
    sheet = toy.project / "sheet.html"
    result = run_json(capsys, "-C", toy.project, "vary", toy.record.id, "--seed", "100..102",
                      "--sheet", sheet)
    assert result["target"] == toy.record.id and result["parameter"] == "seed"
    assert [r["value"] for r in result["runs"]] == [100, 101, 102]
    assert all(r["outcome"] == "captured" for r in result["runs"])
    repo = toy.repo()
    for r in result["runs"]:
        child = repo.load_record(r["record"])
        [parent] = child.parents
        assert (parent.id, parent.relation, dict(parent.changed or {})) == \
            (toy.record.id, "variation-of", {"seed": r["value"]})
        assert child.params.get("seed") == r["value"]
    assert len({r["record"] for r in result["runs"]}) == 3
    grouped = run_json(capsys, "-C", toy.project, "variations", toy.record.id)
    [made] = grouped["made"]
    assert made["parameter"] == "seed"
    assert [m["value"] for m in made["records"]] == [100, 101, 102]
    page = sheet.read_text()
    assert page.count("<figure>") == 4 and "data:image/png;base64," in page
    png = toy.project / "sheet.png"
    assert run(capsys, "-C", toy.project, "variations", toy.record.id, "--sheet", png)[0] == 0
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_vary_one_parameter_at_a_time_unless_grid(
        toy: Toy, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "-C", toy.project, "vary", toy.record.id, "--seed", "1..2",
                         "--set", "2.strength=0.1,0.2")
    assert code == 2 and out == "" and "one parameter at a time" in err
    code, _, err = run(capsys, "-C", toy.project, "vary", toy.record.id, "--set", "9.nope=1")
    assert code == 2 and "names no input" in err
    result = run_json(capsys, "-C", toy.project, "vary", toy.record.id, "--seed", "5..6",
                      "--set", "2.strength=0.1,0.2", "--grid")
    assert [r["value"] for r in result["runs"]] == [
        {"seed": 5, "2.strength": 0.1}, {"seed": 5, "2.strength": 0.2},
        {"seed": 6, "2.strength": 0.1}, {"seed": 6, "2.strength": 0.2}]


def test_random_seeds_are_recorded(toy: Toy, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_json(capsys, "-C", toy.project, "vary", toy.record.id, "--seeds", "2")
    repo = toy.repo()
    for r in result["runs"]:
        assert repo.load_record(r["record"]).params.get("seed") == r["value"]


def test_ctrl_c_keeps_what_finished_and_records_nothing_half(toy: Toy) -> None:
    repo = toy.repo()
    before = repo.index.count()
    seen: list[str] = []

    def progress(what: str, done: int, total: int) -> None:
        seen.append(what)
        if done == 1 and "captured" not in what:  # the second job is on the server
            raise KeyboardInterrupt

    toy.fake.delay = 0.3
    with pytest.raises(KeyboardInterrupt):
        vary(repo, toy.record, seed="1..3", progress=progress)
    assert repo.index.count() == before + 1
    assert len(set(toy.fake.cancelled)) == 1  # taken off the queue, interrupted
    assert verify(repo, toy.record).ready
    from repro.api.maintenance import fsck

    assert list(fsck(repo)) == []


def test_export_api_is_the_executed_prompt_and_workflow_the_ui_graph(
        toy: Toy, capsys: pytest.CaptureFixture[str]) -> None:
    repo = toy.repo()
    prompt = orjson.loads(repo.store.read_bytes(toy.record.source.blobs["prompt"]))
    assert run_json(capsys, "-C", toy.project, "export", toy.record.id, "--format", "api") \
        == prompt
    out = toy.project / "wf.json"
    code, _, _ = run(capsys, "-C", toy.project, "export", toy.record.id, "--format",
                     "workflow", "-o", out)
    assert code == 0 and orjson.loads(out.read_bytes())["nodes"]
    code, _out_text, err = run(capsys, "-C", toy.project, "export", toy.record.id,
                              "--format", "a1111")
    assert code == 4 and "does not allow an A1111 infotext" in err


def test_ctrl_c_on_the_command_line_exits_130_and_fsck_finds_nothing(toy: Toy) -> None:
    """SIGINT to a real ``repro vary`` while its second job runs on the server."""
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from repro.api.maintenance import fsck

    toy.fake.delay = 1.5
    before = toy.repo().index.count()
    exe = Path(sys.executable).with_name("repro")
    # As at a terminal: a test run started in the background by a non-interactive
    # shell inherits SIGINT ignored, and Python then leaves it ignored.
    proc = subprocess.Popen([str(exe), "vary", toy.record.id, "--seed", "1..4"],
                            cwd=toy.project, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    # Prompts: the set-up's, the job that lets /free settle, the first run's (captured
    # before the next is sent), the second's.
    while toy.fake.number < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # the second job runs on the server (1.5 s)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] in ("error: interrupted", "error: aborted")
    repo = toy.repo()
    assert repo.index.count() == before + 1
    assert toy.fake.cancelled
    assert [p for p in fsck(repo) if p.kind != "tmp"] == []
