"""A Hypothesis state machine drives random sequences of add, checkout --force,
model replacement, model rename, gc and fsck against one store, and checks
after every step that nothing referenced was lost."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from repro.api.add import add
from repro.api.checkout import checkout
from repro.api.gc import gc
from repro.api.maintenance import fsck, kept_objects, referenced_objects
from repro.api.repository import Repository
from repro.demo import model_bytes, set_mtime, write_safetensors
from repro.objects.hashing import hash_file
from tests.helpers import make_output, make_project

CKPT = "models/checkpoints/base.safetensors"


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # In memory when possible: each step syncs, and a tmpfs makes that free.
        shm = Path("/dev/shm")
        self.dir = Path(tempfile.mkdtemp(prefix="repro-fuzz-",
                                         dir=shm if shm.is_dir() else None))
        self.root = self.dir / "proj"
        self.root.mkdir()
        make_project(self.root)
        Repository.init(self.root)
        self.outputs = 0
        self.loras = 0
        self.records: list[str] = []
        #: model versions the user had on disk when a checkout replaced them
        self.displaced: set[str] = set()

    def teardown(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def _models(self) -> dict[Path, str]:
        return {p: hash_file(p) for p in sorted((self.root / "models").rglob("*.safetensors"))}

    @initialize()
    def first_outputs(self) -> None:
        self.add_output(0, True)
        self.add_output(1, False)

    @rule(seed=st.integers(0, 3), with_lora=st.booleans())
    def add_output(self, seed: int, with_lora: bool) -> None:
        self.outputs += 1
        out = make_output(self.root, f"o{self.outputs}.png", seed=seed + 10 * self.outputs,
                          lora="style.safetensors" if with_lora else None)
        repo = Repository(self.root)
        try:
            [entry] = add(repo, [out]).records
        finally:
            repo.close()
        self.records.append(entry.id)

    @rule(version=st.integers(0, 3))
    def replace_checkpoint(self, version: int) -> None:
        path = self.root / CKPT
        write_safetensors(path, model_bytes(1000 + version, 20_000))
        set_mtime(path, 7200)

    @rule()
    def rename_lora(self) -> None:
        loras = sorted((self.root / "models/loras").glob("*.safetensors"))
        if loras:
            self.loras += 1
            loras[0].rename(loras[0].with_name(f"renamed{self.loras}.safetensors"))

    @precondition(lambda self: self.records)
    @rule(data=st.data())
    def checkout_force(self, data: st.DataObject) -> None:
        rid = data.draw(st.sampled_from(self.records))
        before = self._models()
        repo = Repository(self.root)
        try:
            result = checkout(repo, repo.load_record(rid), force=True)
            for entry in result.displaced:
                self.displaced.add(entry["blake3"])
        finally:
            repo.close()
        after = self._models()
        for path, old in before.items():
            if after.get(path) != old:
                assert old in self.displaced, f"{path}: the user's version {old} was lost"

    @rule()
    def collect_garbage(self) -> None:
        repo = Repository(self.root)
        try:
            gc(repo, grace_days=0)  # the most eager gc there can be
        finally:
            repo.close()

    @invariant()
    def nothing_referenced_is_lost(self) -> None:
        repo = Repository(self.root)
        try:
            assert [p.to_dict() for p in fsck(repo)] == []
            records = {r.id: r for r in repo.iter_record_objects()}
            assert set(self.records) <= records.keys()
            for record in records.values():
                for oid, what in referenced_objects(record):
                    assert oid in repo.store, f"{record.id}: {what} lost"
            kept = kept_objects(repo)
            for oid in self.displaced:
                assert oid in repo.store and oid in kept, f"displaced version {oid} lost"
        finally:
            repo.close()


def _settings(examples: int, steps: int) -> settings:
    return settings(max_examples=examples, stateful_step_count=steps, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def test_random_sequences_lose_nothing() -> None:
    run_state_machine_as_test(StoreMachine, settings=_settings(40, 15))


@pytest.mark.slow
def test_long_random_sequences_lose_nothing() -> None:
    run_state_machine_as_test(StoreMachine, settings=_settings(200, 40))
