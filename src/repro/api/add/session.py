"""What the files of one ``add`` share: the resolver, the batch's records not
yet indexed, decoded pixels, the capturing host and user."""

from __future__ import annotations

import getpass
import os
import posixpath
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from repro.api.repository import Repository
from repro.models.resolve import Resolver
from repro.objects.platform import hostname
from repro.record import Record
from repro.record.vocabulary import A1111_TOOLS

#: A1111-family outputs decoded at most to find an ``Init image hash`` source.
PIXEL_CANDIDATES = 64

Progress = Callable[[str, int, int], None]
"""Called with (what, done, total)."""

EnvironmentArg = dict[str, Any] | Callable[[str | None], dict[str, Any] | None] | None
"""An add's environment: one for every record, or a function of the record's tool name
(``api.environment_now.capture_environment``), or None (not recorded)."""


class Session:
    """State shared by the files of one ``add``."""

    def __init__(self, repo: Repository, *, mode: str, environment: EnvironmentArg,
                 progress: Progress | None = None):
        self.repo = repo
        self.progress = progress
        self.mode = mode
        self.resolver = Resolver(repo.config.model_roots, repo.stat_cache)
        self.input_dirs = repo.config.input_dirs
        self.environment = environment
        self._environments: dict[str, dict[str, Any] | None] = {}
        #: records written in the current batch, not yet in the index, by output BLAKE3
        self.pending: dict[str, Record] = {}
        #: their JSON (``to_dict()``, made for their bytes), by record id, for the index
        self.pending_json: dict[str, dict[str, Any]] = {}
        #: output fingerprint rows (``thumbnail.look_at_output``) not yet in the index
        self.prints: list[tuple[str, str | None, int | None]] = []
        #: Pixel MD5s decoded so far, by output BLAKE3 (None: not decodable).
        self.decoded: dict[str, str | None] = {}
        #: base checkpoints named by adapters' metadata, by the adapter's BLAKE3
        self.bases: dict[str, dict[str, Any] | None] = {}
        #: model references found and stored, by (role, name, folder, recorded hashes):
        #: ``api.add.models._Resolved``, answered again while the file is unchanged
        self.models: dict[tuple[Any, ...], Any] = {}
        #: model versions this add put into the store, by BLAKE3 ({name, size, mode})
        self.stored_models: dict[str, dict[str, Any]] = {}
        #: outputs stored, and their bytes
        self.stored_outputs = [0, 0]
        #: whether outputs need their pixel MD5 (None: not asked the index yet)
        self.pixels_wanted: bool | None = None
        self._relpaths: dict[Path, str] = {}
        self._folders: dict[Path, str] = {}
        self.host = hostname()
        self.user: str | None
        try:
            self.user = getpass.getuser()
        except (KeyError, OSError):
            self.user = None

    def environment_for(self, tool: str | None) -> dict[str, Any] | None:
        """The environment recorded for an output made by ``tool``: the add's one when it
        was given as a dict, else asked once per tool."""
        if not callable(self.environment):
            return self.environment
        key = tool or "unknown"
        if key not in self._environments:
            self._environments[key] = self.environment(key)
        return self._environments[key]

    def relpath(self, path: Path) -> str:
        """``Repository.relpath``, resolved once per add for each path: the same model
        files are named by image after image."""
        rel = self._relpaths.get(path)
        if rel is None:
            rel = self._relpaths[path] = self.repo.relpath(path)
        return rel

    def output_relpath(self, path: Path) -> str:
        """``Repository.relpath`` of an output: the images of a batch share a few
        folders, each resolved once per add; the file itself is one ``lstat`` (a
        link is resolved in full, as ``relpath`` would)."""
        name = path.name
        try:
            link = stat.S_ISLNK(os.lstat(path).st_mode)
        except OSError:  # gone meanwhile: as relpath spells a path that is not there
            link = True
        if link or name in ("", ".", ".."):
            return self.repo.relpath(path)
        folder = self._folders.get(path.parent)
        if folder is None:
            folder = self._folders[path.parent] = self.repo.relpath(path.parent)
        return name if folder == "." else posixpath.join(folder, name)

    def known_output(self, blake3: str) -> Record | None:
        """The record these output bytes already have, if any."""
        if blake3 in self.pending:
            return self.pending[blake3]
        existing = self.repo.index.record_for_output(blake3)
        return self.repo.load_record(existing) if existing else None

    def output_record(self, blake3: str) -> str | None:
        if blake3 in self.pending:
            return self.pending[blake3].id
        return self.repo.index.record_for_output(blake3)

    def flush_index(self) -> None:
        """Index the records of the batch just made durable."""
        self.repo.index.add_many(list(self.pending.values()), self.pending_json)
        self.pending.clear()
        self.pending_json.clear()
        if self.prints:
            self.repo.index.add_prints(self.prints)
            self.prints.clear()

    def by_pixels(self, md5: str) -> tuple[str, str] | None:
        """An output whose decoded pixels have A1111's ``Init image hash``:
        ``(record id, output BLAKE3)``. Looks at most at the newest
        ``PIXEL_CANDIDATES`` A1111-family outputs."""
        from repro.lineage.pixels import is_pixels_md5, pixels_md5

        if not is_pixels_md5(md5):
            return None
        repo = self.repo
        md5 = md5.lower()
        for rid in repo.index.records_with_pixels(md5):
            return rid, repo.load_record(rid).output.blake3
        for b, r in reversed(self.pending.items()):
            if r.output.pixels_md5 == md5:
                return r.id, b
        candidates = [(r.id, b) for b, r in reversed(self.pending.items())
                      if r.tool.name in A1111_TOOLS and not r.output.pixels_md5]
        candidates += repo.index.recent_outputs(A1111_TOOLS, PIXEL_CANDIDATES)
        for rid, blake3 in candidates[:PIXEL_CANDIDATES]:
            if blake3 not in self.decoded and blake3 in repo.store:
                # Through open(): an output of this batch is still in the store's tmp folder.
                with repo.store.open(blake3) as f:
                    self.decoded[blake3] = pixels_md5(f)
            if self.decoded.get(blake3) == md5:
                return rid, blake3
        return None

    def pixels_if_wanted(self, source: bytes | Path, waits_for_source: bool) -> str | None:
        """The output's pixel MD5, computed only while a captured img2img waits
        for a source it names by A1111's ``Init image hash`` (``waits_for_source``:
        this output is such an img2img itself)."""
        if self.pixels_wanted is None:
            self.pixels_wanted = self.repo.index.waiting_pixel_inputs()
        if waits_for_source:
            self.pixels_wanted = True
            return None
        if not self.pixels_wanted:
            return None
        from repro.lineage.pixels import pixels_md5

        return pixels_md5(source)
