"""Run the ``repro`` command line with a request meter on every S3 client it opens.

The benchmark runs push, pull and clone as separate processes, as a user would
(startup included, like ``dvc``), and still counts their requests and bytes,
and says its peak memory.
With ``BENCH_PROFILE=FILE`` the command runs under cProfile and the stats go
to FILE.

Usage: python bench/_metered.py METER.json REPRO-ARGS...
"""

from __future__ import annotations

import cProfile
import json
import os
import sys
from pathlib import Path
from typing import Any

from _seaweed import Meter


def peak_rss_mib() -> int:
    """This process's peak resident memory (VmHWM: since its exec, unlike ru_maxrss)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return -1


def main() -> int:
    out, args = Path(sys.argv[1]), sys.argv[2:]
    meter = Meter()
    from repro.cli import main as repro_main
    from repro.remote import s3

    opened = s3.S3Remote.__init__

    def metered_init(self: s3.S3Remote, *a: Any, **kw: Any) -> None:
        opened(self, *a, **kw)
        meter.attach(self.client)

    s3.S3Remote.__init__ = metered_init  # type: ignore[method-assign]
    sys.argv = ["repro", *args]
    profile = os.environ.get("BENCH_PROFILE")
    if profile:
        prof = cProfile.Profile()
        code = prof.runcall(repro_main)
        prof.dump_stats(profile)
    else:
        code = repro_main()
    out.write_text(json.dumps({**meter.reset(), "peak_rss_mib": peak_rss_mib()}))
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
