"""SIGKILL real ``repro add``, ``checkout --force`` and ``gc`` processes at every
write checkpoint and at random instants; after every kill the store is
consistent and the user's files whole, and re-running completes the work.

The default run kills each command at a few write steps; the campaigns of
hundreds of kills run with ``--slow`` (and ``bench/crash_soak.py`` for longer)."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.reliability.harness import (
    CKPT,
    ForkRunner,
    Tally,
    Templates,
    build_templates,
    check_after_kill,
    enumerate_checkpoints,
    fresh_copy,
    kill_at,
    random_kills,
    run_repro,
)


def _campaign(base: Path, seed: int, random_per_command: dict[str, int]) -> Tally:
    """Two workers (the subprocesses run in parallel): add | checkout + gc."""
    templates = build_templates(base / "templates")

    def worker(scenarios: tuple[str, ...], n: int) -> Tally:
        tally = Tally()
        rng = random.Random(seed * 10 + n)
        # Every write checkpoint through the console script; the random kills
        # through forked processes (no interpreter start-up: many more kills).
        forks = ForkRunner(base / f"forks-{n}")
        try:
            for scenario in scenarios:
                work = base / f"work-{scenario}"
                enumerate_checkpoints(templates, scenario, work, tally, rng)
                random_kills(templates, scenario, work, tally, rng,
                             random_per_command[scenario], runner=forks)
        finally:
            forks.close()
        return tally

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(worker, ("add",), 1), pool.submit(worker, ("checkout", "gc"), 2)]
        tallies = [f.result() for f in futures]
    total = Tally()
    for t in tallies:
        total.kills += t.kills
        total.runs += t.runs
        total.records_checked += t.records_checked
        for k, v in t.by_command.items():
            total.by_command[k] = total.by_command.get(k, 0) + v
    return total


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    return build_templates(tmp_path_factory.mktemp("templates"))


@pytest.mark.parametrize(("scenario", "crash_at"), [
    ("add", "*:1"),  # the first write of all
    ("add", "add.indexed"),
    ("checkout", "checkout.displaced"),
    ("checkout", "checkout.restored"),
    ("gc", "gc.removed"),
])
def test_a_kill_at_a_write_step_leaves_a_consistent_store(
        templates: Templates, fast_tmp: Path, scenario: str, crash_at: str) -> None:
    tally = Tally()
    assert kill_at(templates, scenario, fast_tmp, tally, random.Random(0), crash_at)
    assert tally.by_command == {scenario: 1}


@pytest.mark.slow
def test_two_hundred_kills_leave_a_consistent_store(fast_tmp: Path) -> None:
    tally = _campaign(fast_tmp, seed=7, random_per_command={"add": 70, "checkout": 55, "gc": 55})
    print(f"crash test: {tally.kills} kills survived {tally.by_command}, "
          f"{tally.records_checked} record checks, {tally.runs} runs")
    assert tally.kills >= 200
    assert set(tally.by_command) == {"add", "checkout", "gc"}
    # Every write step of every command was hit at least once by the enumeration.
    assert min(tally.by_command.values()) >= 5


@pytest.mark.slow
def test_a_thousand_kills(fast_tmp: Path) -> None:
    tally = _campaign(fast_tmp, seed=11,
                      random_per_command={"add": 400, "checkout": 300, "gc": 300})
    assert tally.kills >= 1000


def test_the_harness_notices_a_partial_user_file(fast_tmp: Path) -> None:
    """The checks are not vacuous: a torn checkpoint file is caught."""
    templates = build_templates(fast_tmp / "templates")
    root = fresh_copy(templates, "checkout", fast_tmp / "w", random.Random(0))
    path = root / CKPT
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AssertionError, match="partial or foreign"):
        check_after_kill(templates, "checkout", root)


def test_a_killed_add_is_healed_by_the_next_writer(fast_tmp: Path) -> None:
    """Killed after its records are stored and before the index has them: the
    journal lets the next writer index them without a full scan."""
    from repro.api.maintenance import fsck
    from repro.api.repository import Repository

    templates = build_templates(fast_tmp / "templates")
    root = fresh_copy(templates, "add", fast_tmp / "w", random.Random(0))
    code, _ = run_repro(root, ["add", "outputs", "--no-env"], crash_at="add.stored")
    assert code == -9
    repo = Repository(root)
    pending = [p for p in fsck(repo) if p.object and "before indexing" in p.message]
    assert len(pending) == 3 and {p.kind for p in pending} == {"tmp"}
    assert repo.index.count() == 0
    repo.close()
    code, err = run_repro(root, ["fsck", "--rebuild-index"])  # any writer heals
    assert code == 0, err
    assert "indexed 3 record(s) that an interrupted writer had stored" in err
    repo = Repository(root)
    assert repo.index.count() == 3 and list(fsck(repo)) == []
    repo.close()


@pytest.mark.parametrize("crash_at", ["copy.chunk:2", "copy.chunk:9", "batch.synced",
                                      "batch.renamed"])
def test_a_kill_inside_the_large_copy_pipeline(fast_tmp: Path, crash_at: str) -> None:
    """A model above PIPELINE_MIN (reader and writer threads, direct I/O) killed
    mid-copy: no partial object, and the next ``add`` stores it whole."""
    from repro.api.maintenance import fsck
    from repro.api.repository import Repository
    from repro.demo import set_mtime, write_safetensors
    from repro.objects import copying
    from repro.objects.hashing import hash_file
    from tests.helpers import make_output

    root = fast_tmp / "big"
    size = copying.PIPELINE_MIN + 8 * 1024 * 1024 + 5  # 9 chunks, an unaligned tail
    model = write_safetensors(root / "models/checkpoints/base.safetensors",
                              random.Random(3).randbytes(size))
    set_mtime(model, 7200)
    make_output(root, "o.png", seed=1, lora=None)
    assert run_repro(root, ["init"])[0] == 0
    code, _ = run_repro(root, ["add", "outputs/o.png", "--no-env"], crash_at=crash_at)
    assert code == -9
    repo = Repository(root)
    assert [p for p in fsck(repo) if p.kind != "tmp"] == []
    repo.close()
    code, err = run_repro(root, ["add", "outputs/o.png", "--no-env"])
    assert code == 0, err
    repo = Repository(root)
    try:
        assert list(fsck(repo)) == []
        want = hash_file(model)
        assert want in repo.store
        repo.store.check(want)
    finally:
        repo.close()
