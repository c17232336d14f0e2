"""Opening and reading model files: OS errors and short reads as repro errors."""

from __future__ import annotations

import os
from typing import BinaryIO

from repro.errors import InputError, NotFound, TruncatedFile


def open_binary(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a file for reading, with OS errors turned into repro errors."""
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise NotFound(f"{os.fspath(path)}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{os.fspath(path)}: is a directory, not a model file") from None
    except OSError as exc:
        raise InputError(f"{os.fspath(path)}: cannot read ({exc.strerror})") from None


def read_exact(f: BinaryIO, n: int, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise TruncatedFile(f"{what}: file ends inside the header")
    return data


def is_int(v: object) -> bool:
    """An integer read from a header (JSON's ``true`` is not one)."""
    return isinstance(v, int) and not isinstance(v, bool)
