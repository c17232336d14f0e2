"""A large object down from S3 in ranged GETs side by side, resumable.

The object is fetched in pieces of ``PIECE`` bytes, several at a time, each
written at its offset in the destination file. The number of each piece that is
wholly written is noted, a line each, in ``<dest>.got`` beside it: a download that
stopped (killed, the endpoint gone) leaves both files, and the next one fetches
only the pieces not noted. Once every piece is there the note goes; a
destination without a note is whole when it has the object's size, and is
started again otherwise.

The note is not synced: after a power cut it may name a piece whose bytes never
reached the disk. The caller checks the whole file against its BLAKE3 before
using it (``repro.remote.fetch``), and fetches it all again when bytes kept from
an earlier download turn out wrong.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, TextIO

from repro.errors import RemoteError
from repro.objects.faults import checkpoint

#: Bytes a ranged GET asks for: a stopped download loses at most the pieces in
#: flight; more, smaller pieces keep every thread busy to the end.
PIECE = 16 * 1024 * 1024
#: Bytes read from a response body at a time (memory: this much per thread).
READ = 1024 * 1024

Call = Callable[..., Any]


def note_of(dest: Path) -> Path:
    return dest.with_name(dest.name + ".got")


def get(call: Call, key: str, dest: Path, size: int, *, threads: int) -> int:
    """Bring ``dest`` to the ``size`` bytes of ``key`` (see the module doc); the
    bytes fetched by this call. ``call`` makes one request (``S3Remote._call``)."""
    note = note_of(dest)
    have = _pieces_kept(dest, note, size)
    if have is None:
        return 0  # whole already
    todo = [n for n in range(-(-size // PIECE)) if n not in have]
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o600)
    try:
        with note.open("a") as noting:
            _fetch_pieces(call, key, fd, size, todo, noting, threads)
        os.ftruncate(fd, size)  # an empty object has no piece to write
    finally:
        os.close(fd)
    note.unlink()
    return sum(min(size, (n + 1) * PIECE) - n * PIECE for n in todo)


def _pieces_kept(dest: Path, note: Path, size: int) -> set[int] | None:
    """The pieces an earlier download left written (None: ``dest`` is whole); with
    nothing to continue, ``dest`` emptied and a fresh note begun."""
    if note.exists() and dest.exists():
        with contextlib.suppress(ValueError):
            return {int(line) for line in note.read_text().split()}
    elif dest.exists() and dest.stat().st_size == size:
        return None
    note.write_text("")
    dest.write_bytes(b"")
    return set()


def _fetch_pieces(call: Call, key: str, fd: int, size: int, todo: list[int],
                  noting: TextIO, threads: int) -> None:
    """The pieces ``todo``, ``threads`` at a time, each noted once written. On a
    failure the pieces not started are dropped, those running are let finish (and
    noted), and the first failure is raised."""
    failed: BaseException | None = None
    with ThreadPoolExecutor(max(1, threads)) as pool:
        running: dict[Future[None], int] = {
            pool.submit(_piece, call, key, fd, n * PIECE, min(size, (n + 1) * PIECE)): n
            for n in todo}
        while running:
            finished, _ = wait(running, return_when=FIRST_EXCEPTION)
            for future in finished:
                n = running.pop(future)
                if future.cancelled():
                    continue
                if future.exception() is not None:
                    failed = failed or future.exception()
                    for other in running:
                        other.cancel()
                    continue
                noting.write(f"{n}\n")
                noting.flush()
                checkpoint("s3.range")
    if failed is not None:
        raise failed


def _piece(call: Call, key: str, fd: int, start: int, end: int) -> None:
    body = call("get_object", Key=key, Range=f"bytes={start}-{end - 1}")["Body"]
    with body:
        pos = start
        while pos < end:
            chunk = body.read(min(READ, end - pos))
            if not chunk:
                raise RemoteError(f"the remote sent {pos - start} of the {end - start} bytes "
                                  f"asked for at {start} of {key}",
                                  hint="pull again: what arrived is kept")
            view = memoryview(chunk)
            while view:
                written = os.pwrite(fd, view, pos)
                view, pos = view[written:], pos + written
