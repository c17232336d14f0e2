"""The long crash soak: SIGKILL `repro add`, `checkout --force` and `gc` many times.

    .venv/bin/python bench/crash_soak.py                  # 1,000 random kills
    .venv/bin/python bench/crash_soak.py --kills 5000 --seed 3 --dir /var/tmp

The same harness as tests/reliability/test_crash.py (see its docstring): first
a kill at every write checkpoint of each command, each on a fresh project,
then random kills (one to four in a row on one store before a clean re-run),
split evenly across the three commands, in processes forked from a server
that imported repro once (tests/reliability/forkserver.py). After every kill the store must be
consistent (fsck: nothing but leftovers of the kill; every record's objects
present and re-hashing right) and the user's files whole; every re-run must
finish the work with fsck clean. The first failure stops the soak with its
seed, so it can be replayed.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.reliability.harness import (
    COMMANDS,
    ForkRunner,
    Tally,
    build_templates,
    enumerate_checkpoints,
    random_kills,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=1000, help="random kills in all")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=None,
                        help="scratch folder (default: /dev/shm when present)")
    parser.add_argument("--json", action="store_true", help="print the tally as JSON")
    args = parser.parse_args()
    shm = Path("/dev/shm")
    parent = args.dir or (shm if shm.is_dir() else None)
    base = Path(tempfile.mkdtemp(prefix="repro-soak-", dir=parent))
    rng = random.Random(args.seed)
    tally = Tally()
    start = time.monotonic()
    try:
        templates = build_templates(base / "templates")
        for scenario in COMMANDS:
            enumerate_checkpoints(templates, scenario, base / f"work-{scenario}", tally, rng)
        per = max(1, args.kills // len(COMMANDS))
        forks = ForkRunner(base / "forks")
        try:
            for scenario in COMMANDS:
                random_kills(templates, scenario, base / f"work-{scenario}", tally, rng, per,
                             runner=forks)
        finally:
            forks.close()
    except AssertionError as exc:
        print(f"FAILED after {tally.kills} kills (seed {args.seed}): {exc}", file=sys.stderr)
        print(f"the failing store is kept in {base}", file=sys.stderr)
        return 1
    elapsed = time.monotonic() - start
    shutil.rmtree(base, ignore_errors=True)
    summary = {"kills": tally.kills, "by_command": tally.by_command, "runs": tally.runs,
               "records_checked": tally.records_checked, "seconds": round(elapsed, 1),
               "seed": args.seed}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{tally.kills} kills survived ({', '.join(f'{k} {v}' for k, v in tally.by_command.items())}), "
              f"{tally.records_checked} record checks, {tally.runs} runs, {elapsed:.0f} s, "
              f"seed {args.seed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
