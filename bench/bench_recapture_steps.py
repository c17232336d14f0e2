"""Where the time of a re-capture batch goes: the steps of ``add`` timed in one
process (issue 17 item 10).

Makes the project of ``bench_recapture.py`` (three known models, ``--images``
new images), then runs ``add`` of the new images in a child process with a
timer around each step: wall time and the capturing thread's CPU time
(``time.thread_time``), and the whole process's CPU (all threads). With
``--before SRC`` another checkout's ``src`` is timed the same way, in turn.

Usage: python bench/bench_recapture_steps.py [--images 1000] [--dir /tmp] [--before SRC]
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WALL: collections.Counter[str] = collections.Counter()
CPU: collections.Counter[str] = collections.Counter()


def timed(owner: Any, name: str, label: str) -> None:
    """Replace ``owner.name`` by the same function, timed under ``label``."""
    inner: Callable[..., Any] = getattr(owner, name)

    def step(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return inner(*args, **kwargs)
        finally:
            WALL[label] += time.perf_counter() - wall
            CPU[label] += time.thread_time() - cpu

    setattr(owner, name, step)


def instrument() -> None:
    import repro.api.add.session as session
    import repro.api.add.verb as verb
    import repro.lineage.perceptual as perceptual
    import repro.lineage.thumbnails as thumbnails
    import repro.objects.store as store

    for name, label in (("read_image", "read the image"), ("read_bytes", "parse"),
                        ("capture_model", "models"), ("capture_inputs", "inputs"),
                        ("look_at_output", "decode, fingerprint, thumbnail"),
                        ("build_record", "build the record"), ("sha256_of", "SHA-256")):
        timed(verb, name, label)
    # The record's JSON is kept for the index since 2026-12-06 (encode), not made twice.
    timed(verb, "encode" if hasattr(verb, "encode") else "canonical_bytes", "encode the record")
    timed(perceptual, "_phash", "  of which the fingerprint")
    timed(thumbnails, "encode", "  of which the WebP encode")
    timed(perceptual, "_digest", "  of which the pixel digest")
    timed(thumbnails.Thumbnails, "put", "store the thumbnail (and its ref)")
    timed(store.ObjectStore, "put_bytes", "store small objects")
    timed(session.Session, "flush_index", "the index")
    if hasattr(store.ObjectStore, "_commit_batch"):  # before packs
        timed(store.ObjectStore, "_commit_batch", "the batch commit")
    else:
        from repro.objects import batching

        timed(batching.Batch, "commit", "the batch commit")


def child(root: Path, src: str, images: int) -> None:
    """Time ``add`` of ``root/batch`` with the repro of ``src`` (this process)."""
    sys.path.insert(0, src)
    from repro.api.add import add
    from repro.api.repository import Repository

    Repository.init(root)
    repo = Repository(root)
    add(repo, [root / "first"])
    repo.close()
    instrument()
    repo = Repository(root)
    wall, cpu = time.perf_counter(), time.process_time()
    result = add(repo, [root / "batch"])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    repo.close()
    assert len(result.records) == images
    print(f"{images} images, repro from {src}; load average {os.getloadavg()[0]:.1f}")
    print(f"add: {wall:.3f} s wall, {cpu:.3f} s CPU (the whole process, all threads)")
    print(f"{'step':36} {'wall s':>7} {'CPU s':>7}")
    for label, seconds in WALL.most_common():
        print(f"{label:36} {seconds:7.3f} {CPU[label]:7.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--dir", default=tempfile.gettempdir())
    ap.add_argument("--before", help="another checkout's src folder to time as well")
    ap.add_argument("--child", nargs=2, metavar=("ROOT", "SRC"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(Path(args.child[0]), args.child[1], args.images)
        return
    sys.path.insert(0, str(HERE))
    from bench_recapture import make_project  # its repro.demo writes the images

    for src in [str(HERE.parent / "src"), *([args.before] if args.before else [])]:
        root = Path(tempfile.mkdtemp(prefix="repro-steps-", dir=args.dir))
        try:
            make_project(root, args.images)
            env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            subprocess.run([sys.executable, __file__, "--images", str(args.images),
                            "--child", str(root), src], check=True, env=env)
        finally:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
