"""Writing an object out of the store (``ObjectStore.materialize``): a verified
copy, a copy-on-write clone or a hard link at ``dest``, put in place atomically."""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from repro.errors import ChecksumMismatch
from repro.objects import copying, hashing
from repro.objects.atomic import atomic_writer, fsync_dir, new_file_mode
from repro.objects.faults import checkpoint
from repro.objects.loose import same_device


def materialize(oid: str, src: Path | bytes, dest: Path, tmp_dir: Path, *, mode: str = "copy",
                progress: hashing.Progress | None = None) -> None:
    """Write object ``oid`` (a loose object's file, or a packed one's bytes) to
    ``dest``; ``dest`` is replaced only when the bytes written hash to ``oid``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Temp files go to the store's tmp folder (cleaned by the next writer
    # after a crash) rather than into the user's model folder, whenever
    # a rename from there can reach ``dest``.
    tmp_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(src, Path) and mode == "hardlink" and same_device(src, dest.parent):
        got = hashing.hash_file(src, progress)
        if got != oid:
            raise ChecksumMismatch(f"object {oid}", oid, got)
        tmp_name = tmp_dir / f"tmp-link-{oid[:16]}-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            tmp_name.unlink()
        try:
            os.link(src, tmp_name)
            checkpoint("materialize.linked")
            os.replace(tmp_name, dest)
        except OSError:
            with contextlib.suppress(FileNotFoundError):
                tmp_name.unlink()
        else:
            fsync_dir(dest.parent)
            return
    same_fs = same_device(tmp_dir, dest.parent)
    try:
        _copy(oid, src, dest, mode, progress, tmp_dir if same_fs else None)
    except OSError as exc:
        # Same device yet no rename between them (bind mounts): use dest's folder.
        if not same_fs or exc.errno != errno.EXDEV:
            raise
        _copy(oid, src, dest, mode, progress, None)


def _copy(oid: str, src: Path | bytes, dest: Path, mode: str,
          progress: hashing.Progress | None, tmp_dir: Path | None) -> None:
    # A checked-out file gets the mode ``cp`` would give it, not mkstemp's 0o600.
    if isinstance(src, bytes):  # a packed object's bytes
        got = hashing.hash_bytes(src)
        if got != oid:
            raise ChecksumMismatch(f"object {oid} (store damaged)", oid, got)
        with atomic_writer(dest, tmp_dir=tmp_dir, mode=new_file_mode()) as fout:
            fout.write(src)
        return
    with open(src, "rb", buffering=0) as fin:
        size = os.fstat(fin.fileno()).st_size
        with atomic_writer(dest, tmp_dir=tmp_dir, mode=new_file_mode()) as fout:
            got = copying.clone_or_copy(fin, fout, size, progress, reflink=mode == "reflink")
            if got != oid:
                raise ChecksumMismatch(f"object {oid} (store damaged)", oid, got)
