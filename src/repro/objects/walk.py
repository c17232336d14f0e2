"""Walking a folder: the one policy for every walk repro makes.

``iter_files(root)`` yields ``(path, stat)`` for the regular files under
``root``:

- in order: each folder's entries sorted by name, a subfolder's files at its
  place in that order (the same root always gives the same sequence);
- without ``.repro`` or any other folder whose name starts with a dot (nor
  the folders ``skip_folder`` names);
- a symlinked *folder* is never followed: one that leads out of the root
  would list what is not under it, one that leads inside lists what the walk
  reaches anyway (under a second name), and neither can loop; a folder seen
  twice all the same (a bind mount of an ancestor) is read once;
- a symlinked *file* is yielded with its target's stat (a file is a leaf:
  reading it cannot loop), a dangling link is not;
- at most ``max_depth`` folders deep below the root;
- a folder that cannot be read, or vanishes while it is walked, is passed over.

Yielded paths are spelled under ``root`` as given (not resolved), so callers
can make them relative to it. Filtering files (by suffix, size...) is the
caller's.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

#: Folders deeper than this below the root are not read.
MAX_DEPTH = 12


def skipped_folder(name: str) -> bool:
    """Whether a folder of this name is never walked: ``.repro`` and hidden folders."""
    return name.startswith(".")


def iter_files(root: str | os.PathLike[str], *, max_depth: int = MAX_DEPTH,
               skip_folder: Callable[[str], bool] | None = None
               ) -> Iterator[tuple[Path, os.stat_result]]:
    """``(path, stat)`` of every regular file under ``root``, by the policy above.

    ``skip_folder(name)``: further folder names to leave out (``.repro`` and
    hidden folders always are). A ``root`` that is not a folder yields nothing.
    """
    top = Path(root)
    try:
        st = top.stat()
    except OSError:
        return
    # The root itself may be a link (a model root on another disk): it is the
    # folder the caller named.
    if not stat.S_ISDIR(st.st_mode):
        return
    seen = {(st.st_dev, st.st_ino)}
    stack: list[tuple[Iterator[os.DirEntry[str]], int]] = [(_listing(top), 0)]
    while stack:
        entries, depth = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                if depth >= max_depth or skipped_folder(entry.name) or (
                        skip_folder is not None and skip_folder(entry.name)):
                    continue
                folder = entry.stat(follow_symlinks=False)
                key = (folder.st_dev, folder.st_ino)
                if key in seen:
                    continue
                seen.add(key)
                stack.append((_listing(Path(entry.path)), depth + 1))
                continue
            if not entry.is_file():  # a link to a file counts; to a folder, not
                continue
            file_stat = entry.stat()
        except OSError:
            continue
        yield Path(entry.path), file_stat


def _listing(folder: Path) -> Iterator[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        return iter(())
    return iter(entries)

