"""The crash harness: run real ``repro`` processes, SIGKILL them, check the store.

Three scenarios, each a template project copied afresh for every run:

- ``add``: a 6 MB checkpoint, a LoRA and three ComfyUI outputs, nothing
  captured yet; the command is ``repro add outputs``.
- ``checkout``: the outputs captured with checkpoint v1, then v1 replaced on
  disk by v2 under the same name; ``repro checkout outputs/o0.png --force``
  must store v2 (displaced) and put v1 back.
- ``gc``: the checkout project plus unreachable objects; ``repro gc
  --grace-days 0`` removes them.

A process is killed either at its N-th write checkpoint (``REPRO_TEST_CRASH_AT``,
see ``repro.objects.faults``) or after a random delay (with a small sleep at
every checkpoint to widen the windows). After every kill ``check_after_kill``
asserts the store is consistent and the user's files are whole; after the
re-run ``check_done`` asserts the work is complete and fsck finds nothing.
Used by ``tests/reliability/test_crash.py`` and ``bench/crash_soak.py``.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repro.api.add import add
from repro.api.maintenance import fsck, kept_objects, referenced_objects
from repro.api.repository import Repository
from repro.demo import comfy_graph, model_bytes, set_mtime, write_comfy_png, write_safetensors
from repro.objects.hashing import hash_file
from tests.paths import ROOT

REPRO = str(Path(sys.executable).with_name("repro"))
MODEL_SIZE = 6_000_000
OUTPUTS = ("o0.png", "o1.png", "o2.png")
CKPT = "models/checkpoints/base.safetensors"
LORA = "models/loras/style.safetensors"
COMMANDS: dict[str, list[str]] = {
    "add": ["add", "outputs", "--no-env"],
    "checkout": ["checkout", "outputs/o0.png", "--force"],
    "gc": ["gc", "--grace-days", "0"],
}


@dataclass
class Templates:
    """Template projects and the content each user file may have."""

    base: Path
    v1: str = ""
    v2: str = ""
    lora: str = ""
    outputs: dict[str, str] = field(default_factory=dict)

    def project(self, scenario: str) -> Path:
        return self.base / scenario


def _weights(path: Path, seed: int) -> str:
    write_safetensors(path, model_bytes(seed, MODEL_SIZE))
    set_mtime(path, 7200)
    return hash_file(path)


def build_templates(base: Path) -> Templates:
    """Write the three template projects under ``base``."""
    t = Templates(base)
    root = t.project("add")
    t.v1 = _weights(root / CKPT, 1)
    write_safetensors(root / LORA, model_bytes(2, 50_000))
    set_mtime(root / LORA, 7200)
    t.lora = hash_file(root / LORA)
    for i, name in enumerate(OUTPUTS):
        graph = comfy_graph(ckpt="base.safetensors", lora="style.safetensors",
                            lora_strength=0.8, seed=100 + i, prompt=f"a fox, take {i}")
        path = write_comfy_png(root / "outputs" / name, graph, pixel_seed=i, size=(16, 16))
        set_mtime(path, 3600)
        t.outputs[f"outputs/{name}"] = hash_file(path)
    Repository.init(root)

    checkout = t.project("checkout")
    shutil.copytree(root, checkout, symlinks=True)
    repo = Repository(checkout)
    try:
        add(repo, [checkout / "outputs"])
    finally:
        repo.close()
    t.v2 = _weights(checkout / CKPT, 3)

    shutil.copytree(checkout, t.project("gc"), symlinks=True)
    return t


def fresh_copy(t: Templates, scenario: str, dest: Path, rng: random.Random) -> Path:
    """A new working copy of a scenario's template (gc: with new garbage objects)."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(t.project(scenario), dest, symlinks=True)
    if scenario == "gc":
        repo = Repository(dest)
        for _ in range(6):
            repo.store.put_bytes(rng.randbytes(rng.randrange(100, 5000)))
        repo.close()
    return dest


class ScriptRunner:
    """Runs the installed ``repro`` console script in a new interpreter."""

    def run(self, root: Path, args: list[str], *, crash_at: str | None = None,
            kill_after: float | None = None, delay: float = 0.0,
            timeout: float = 60.0) -> tuple[int, str]:
        """Run ``repro`` in ``root``; returns (returncode, stderr). -9 means killed."""
        proc = subprocess.Popen([REPRO, *args], cwd=root, env={**_clean_env(), **_hooks(
            crash_at, delay)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if kill_after is not None:
            try:
                proc.wait(kill_after)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=timeout)
        return proc.returncode, err

    def close(self) -> None:
        pass


class ForkRunner:
    """Runs ``repro`` in processes forked from a server that imported it once
    (``tests/reliability/forkserver.py``): real processes, killed by real
    SIGKILLs, without the interpreter start-up that dominates a short run."""

    def __init__(self, scratch: Path):
        scratch.mkdir(parents=True, exist_ok=True)
        self.stderr = scratch / "stderr.txt"
        self.server = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.forkserver"], cwd=ROOT, env=_clean_env(),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def _ask(self, request: dict[str, object]) -> dict[str, Any]:
        assert self.server.stdin is not None and self.server.stdout is not None
        self.server.stdin.write(json.dumps(request) + "\n")
        self.server.stdin.flush()
        reply: dict[str, Any] = json.loads(self.server.stdout.readline())
        return reply

    def run(self, root: Path, args: list[str], *, crash_at: str | None = None,
            kill_after: float | None = None, delay: float = 0.0,
            timeout: float = 60.0) -> tuple[int, str]:
        env = {"REPRO_NO_PROGRESS": "1", **_hooks(crash_at, delay)}
        pid = int(self._ask({"run": args, "cwd": str(root), "env": env,
                             "stderr": str(self.stderr)})["pid"])
        status = None
        if kill_after is not None:
            status = self._ask({"wait": pid, "timeout": kill_after})["status"]
            if status is None:
                os.kill(pid, signal.SIGKILL)  # not reaped yet: the pid is still ours
        if status is None:
            status = self._ask({"wait": pid, "timeout": timeout})["status"]
        if status is None:
            os.kill(pid, signal.SIGKILL)
            self._ask({"wait": pid, "timeout": timeout})
            raise AssertionError(f"repro {' '.join(args)} hung for {timeout} s")
        return int(status), self.stderr.read_text()

    def close(self) -> None:
        assert self.server.stdin is not None and self.server.stdout is not None
        self.server.stdin.close()
        self.server.wait(10)
        self.server.stdout.close()


Runner = ScriptRunner | ForkRunner


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPRO_")}
    env["REPRO_NO_PROGRESS"] = "1"
    return env


def _hooks(crash_at: str | None, delay: float) -> dict[str, str]:
    hooks = {}
    if crash_at:
        hooks["REPRO_TEST_CRASH_AT"] = crash_at
    if delay:
        hooks["REPRO_TEST_CHECKPOINT_DELAY"] = str(delay)
    return hooks


def run_repro(root: Path, args: list[str], *, crash_at: str | None = None,
              kill_after: float | None = None, delay: float = 0.0,
              timeout: float = 60.0) -> tuple[int, str]:
    """The console script in ``root``; returns (returncode, stderr). -9 means killed."""
    return ScriptRunner().run(root, args, crash_at=crash_at, kill_after=kill_after,
                              delay=delay, timeout=timeout)


def _problems(repo: Repository) -> list[dict[str, str]]:
    return [p.to_dict() for p in fsck(repo)]


def check_after_kill(t: Templates, scenario: str, root: Path) -> int:
    """The store is consistent and no user file is partial. Returns records checked."""
    repo = Repository(root)
    try:
        serious = [p for p in _problems(repo) if p["kind"] != "tmp"]
        assert not serious, serious
        records = list(repo.iter_record_objects())
        for record in records:
            for oid, what in referenced_objects(record):
                assert oid in repo.store, f"record {record.id}: {what} {oid} missing"
                repo.store.check(oid)
        ckpt = hash_file(root / CKPT)
        allowed = {t.v1} if scenario == "add" else {t.v1, t.v2}
        assert ckpt in allowed, f"{CKPT} is partial or foreign: {ckpt}"
        assert hash_file(root / LORA) == t.lora
        for rel, b3 in t.outputs.items():
            assert hash_file(root / rel) == b3, rel
        # No litter in the user's folders (temp files belong in .repro/tmp).
        assert sorted(p.name for p in (root / "models").rglob("*") if p.is_file()) == [
            "base.safetensors", "style.safetensors"]
        if scenario == "checkout" and ckpt == t.v1:
            # Restored: the displaced version must be stored and kept.
            assert t.v2 in repo.store and t.v2 in kept_objects(repo), "displaced v2 lost"
        if scenario != "add":
            assert len(records) == len(OUTPUTS)
        return len(records)
    finally:
        repo.close()


def check_done(t: Templates, scenario: str, root: Path) -> None:
    """After a complete run: the work is done and fsck finds nothing at all."""
    repo = Repository(root)
    try:
        assert _problems(repo) == []
        for b3 in t.outputs.values():
            assert repo.index.record_for_output(b3), f"output {b3} not captured"
        ckpt = hash_file(root / CKPT)
        if scenario == "checkout":
            assert ckpt == t.v1 and t.v2 in repo.store and t.v2 in kept_objects(repo)
        reachable = kept_objects(repo)
        for record in repo.iter_record_objects():
            reachable.add(record.id)
            reachable.update(oid for oid, _ in referenced_objects(record))
        assert reachable <= set(repo.store)
        # An output's thumbnail (lineage.thumbnails) lives as long as the output.
        reachable.update(thumb for output, thumb in repo.thumbs.refs()
                         if thumb and output in reachable)
        if scenario == "gc":
            assert set(repo.store) <= reachable, "gc left unreachable objects"
    finally:
        repo.close()


@dataclass
class Tally:
    kills: int = 0
    records_checked: int = 0
    runs: int = 0
    by_command: dict[str, int] = field(default_factory=dict)

    def killed(self, scenario: str, records: int) -> None:
        self.kills += 1
        self.records_checked += records
        self.by_command[scenario] = self.by_command.get(scenario, 0) + 1


def _finish(t: Templates, scenario: str, root: Path, runner: Runner) -> None:
    code, err = runner.run(root, COMMANDS[scenario])
    assert code == 0, f"re-run of {scenario} failed ({code}): {err}"
    check_done(t, scenario, root)


def kill_at(t: Templates, scenario: str, work: Path, tally: Tally, rng: random.Random,
            crash_at: str, runner: Runner | None = None) -> bool:
    """Kill the scenario's command at ``crash_at`` on a fresh copy, check the store,
    re-run and check the work is done. False if it finished before ``crash_at``."""
    runner = runner or ScriptRunner()
    root = fresh_copy(t, scenario, work, rng)
    code, err = runner.run(root, COMMANDS[scenario], crash_at=crash_at)
    tally.runs += 1
    if code == 0:
        check_done(t, scenario, root)
        return False
    assert code == -signal.SIGKILL, f"{scenario} at {crash_at}: exit {code}: {err}"
    tally.killed(scenario, check_after_kill(t, scenario, root))
    _finish(t, scenario, root, runner)
    return True


def enumerate_checkpoints(t: Templates, scenario: str, work: Path, tally: Tally,
                          rng: random.Random, limit: int = 200,
                          runner: Runner | None = None) -> None:
    """Kill at every write checkpoint in turn, each on a fresh copy; re-run each time."""
    runner = runner or ScriptRunner()
    for n in range(1, limit + 1):
        if not kill_at(t, scenario, work, tally, rng, f"*:{n}", runner):
            return
    raise AssertionError(f"{scenario} passed more than {limit} checkpoints")


def clean_run_time(t: Templates, scenario: str, work: Path, rng: random.Random,
                   runner: Runner) -> float:
    """How long an uninterrupted run takes here: the median of three (random
    kills are spread over it)."""
    times = []
    for _ in range(3):
        root = fresh_copy(t, scenario, work, rng)
        start = time.monotonic()
        code, err = runner.run(root, COMMANDS[scenario])
        times.append(time.monotonic() - start)
        assert code == 0, err
        check_done(t, scenario, root)
    return sorted(times)[1]


def random_kills(t: Templates, scenario: str, work: Path, tally: Tally, rng: random.Random,
                 kills: int, runner: Runner | None = None) -> None:
    """Kill at random instants; one to four kills in a row on one store, then re-run.

    The instants are spread over the later 70% of a clean run (the first part
    is start-up, before any write).
    """
    runner = runner or ScriptRunner()
    span = clean_run_time(t, scenario, work, rng, runner)
    target = tally.by_command.get(scenario, 0) + kills
    root = fresh_copy(t, scenario, work, rng)
    streak, streak_len = 0, rng.randint(1, 4)
    while tally.by_command.get(scenario, 0) < target:
        delay = rng.choice((0.0, 0.0, 0.002))
        code, err = runner.run(root, COMMANDS[scenario],
                               kill_after=rng.uniform(0.3 * span, span), delay=delay)
        tally.runs += 1
        if code == -signal.SIGKILL:
            tally.killed(scenario, check_after_kill(t, scenario, root))
            streak += 1
            if streak < streak_len:
                continue  # kill the next attempt too, before any clean run
            _finish(t, scenario, root, runner)
        else:
            assert code == 0, f"{scenario}: exit {code}: {err}"
            check_done(t, scenario, root)
        streak, streak_len = 0, rng.randint(1, 4)
        root = fresh_copy(t, scenario, work, rng)
