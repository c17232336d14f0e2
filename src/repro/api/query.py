"""Read-only commands: ``show``, ``log``, ``models``, ``uses``, ``diff``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from repro.api.repository import Repository
from repro.errors import NotFound
from repro.lineage.diff import Diff, diff_graphs, diff_records
from repro.lineage.variations import Variations
from repro.objects.ids import is_id
from repro.record import Record, normalise_hash

if TYPE_CHECKING:
    from repro.api.verify import ModelStatus


def log(repo: Repository, target: Record | None, *, limit: int | None = None,
        descendants: bool = False) -> list[Record]:
    """``target`` then its ancestors (or descendants); all records newest first without one."""
    return list(iter_log(repo, target, limit=limit, descendants=descendants))


def iter_log(repo: Repository, target: Record | None, *, limit: int | None = None,
             descendants: bool = False) -> Iterator[Record]:
    """``log``, one record at a time: memory stays flat however many records it gives."""
    if target is None:
        yield from (repo.load_record(i) for i in repo.index.iter_ids(newest_first=True,
                                                                     limit=limit))
        return
    if limit is not None and limit < 1:
        return
    yield target
    walk = repo.index.descendants if descendants else repo.index.ancestors
    rest = walk(target.id, None if limit is None else max(limit - 1, 0))
    yield from (repo.load_record(i) for i in rest)


def parent_map(repo: Repository, records: list[Record]) -> dict[str, list[str]]:
    """Parents of each record among ``records``, from the index (so edges found
    after a record was captured are included)."""
    parents: dict[str, list[str]] = {r.id: [] for r in records}
    for child, parent, _kind in repo.index.edges_within(parents):
        parents[child].append(parent)
    return parents


def model_versions(repo: Repository, model: str, *, cwd: Path | None = None) -> list[str]:
    """BLAKE3s a model argument names: a file path, a name, or a hash (prefix)."""
    cwd = cwd or Path.cwd()
    path = cwd / model
    if path.is_file():
        return [repo.stat_cache.hashes(path.resolve(), ("blake3",))["blake3"]]
    lowered = normalise_hash(model) or ""
    found = repo.index.model_blake3s_named(model)
    if not found and len(lowered) >= 6:
        found = repo.index.model_blake3s_with_prefix(lowered)
        if not found:
            # A SHA-256 is also 64 hex: recorded hashes are asked before taking it as a BLAKE3.
            found = repo.index.model_blake3s_by_hash(lowered)
        if not found:
            found = [e.hashes["blake3"] for scheme in ("sha256", "tensor_sha256", "autov1")
                     for e in repo.stat_cache.find(scheme, lowered) if "blake3" in e.hashes]
    if not found and is_id(lowered):
        found = [lowered]
    if not found:
        raise NotFound(f"no known model version named {model!r}",
                       hint="give a model file, its recorded name, or a hash; see `repro models`")
    return list(dict.fromkeys(found))


def uses(repo: Repository, model: str, *, cwd: Path | None = None) -> list[Record]:
    """Outputs made with the version(s) ``model`` names, newest first."""
    versions = _exact_versions(repo, model_versions(repo, model, cwd=cwd), model, cwd)
    return [repo.load_record(i) for i in repo.index.records_using(versions)]


def uses_listed(repo: Repository, model: str, *,
                cwd: Path | None = None) -> list[dict[str, Any]]:
    """``uses`` as a list prints it, ``{"id", "path", "tool", "level"}`` each, from the
    index alone: a LoRA in 20,000 records is not 20,000 record files read."""
    versions = _exact_versions(repo, model_versions(repo, model, cwd=cwd), model, cwd)
    return _listed(repo, versions)


def _listed(repo: Repository, versions: list[str]) -> list[dict[str, Any]]:
    return [{"id": rid, "path": path, "tool": tool, "level": level}
            for rid, path, tool, level in repo.index.uses_rows(versions)]


def uses_by_version(repo: Repository, model: str, *,
                    cwd: Path | None = None) -> list[dict[str, Any]]:
    """``uses --any-version``: every version seen under the model's names, each
    ``{"blake3", "names", "records": [Record]}``, most used first."""
    return _by_version(repo, model, cwd, lambda versions: [
        repo.load_record(i) for i in repo.index.records_using(versions)])


def uses_by_version_listed(repo: Repository, model: str, *,
                           cwd: Path | None = None) -> list[dict[str, Any]]:
    """``uses_by_version`` as a list prints it (``uses_listed``'s entries)."""
    return _by_version(repo, model, cwd, lambda versions: _listed(repo, versions))


def _by_version(repo: Repository, model: str, cwd: Path | None,
                records_of: Callable[[list[str]], list[Any]]) -> list[dict[str, Any]]:
    """The groups of ``uses --any-version``, each version's ``records`` as
    ``records_of`` gives them."""
    versions = _every_version(repo, model_versions(repo, model, cwd=cwd))
    names = repo.index.model_names(versions)
    groups = [{"blake3": b, "names": names.get(b, []), "records": records_of([b])}
              for b in versions]
    groups.sort(key=lambda g: (-len(g["records"]), g["blake3"]))
    return groups


def _exact_versions(repo: Repository, versions: list[str], model: str,
                    cwd: Path | None) -> list[str]:
    # A name recorded with several versions means the one at its path now,
    # when one of them is there; otherwise every version is reported.
    if len(versions) < 2 or (cwd or Path.cwd()).joinpath(model).is_file():
        return versions
    for name_paths in repo.index.model_names(versions).values():
        for recorded in name_paths:
            path = repo.abspath(recorded)
            if "/" in recorded and path.is_file():
                now = repo.stat_cache.hashes(path, ("blake3",))["blake3"]
                if now in versions:
                    return [now]
    return versions


def _every_version(repo: Repository, versions: list[str]) -> list[str]:
    out = list(versions)
    for names in repo.index.model_names(versions).values():
        for name in names:
            out += [b for b in repo.index.model_blake3s_named(name) if b not in out]
    return out


def variations(repo: Repository, record: Record) -> Variations:
    """Outputs one parameter (or only the seed) away from ``record``, grouped by it."""
    from repro.lineage.variations import find_variations

    return find_variations(repo.index, record, repo.load_record)


def graph_document(repo: Repository, target: Record | None, fmt: str) -> str:
    """``repro graph``: the lineage around ``target`` (or the newest records) as
    ``dot``, ``json``, ``graphml`` or a self-contained ``html`` page."""
    from repro.lineage.graph import build_graph, render

    graph = build_graph(repo.index, target.id if target else None)
    # Outputs captured before thumbnails were made at capture get theirs now, kept.
    made: dict[str, bytes | None] = {}

    def thumbnail(output: str) -> bytes | None:
        if output in made:
            return made[output]
        found = repo.thumbs.read(output)
        if found is None:
            found = made[output] = repo.thumbs.make(output)
        return found

    text = render(graph, fmt, load_record=repo.load_record, thumbnail=thumbnail)
    repo.thumbs.keep({output: data for output, data in made.items() if data})
    return text


def graph(repo: Repository, target: Record | None, *, format: str = "dot",
          output: Path | None = None) -> str:
    """``graph_document`` in ``format``; with ``output``, also written to that file
    atomically, readable like any file the user writes."""
    text = graph_document(repo, target, format)
    if output is not None:

        from repro.objects.atomic import new_file_mode, write_bytes

        write_bytes(output, text.encode("utf-8"), tmp_dir=output.parent, mode=new_file_mode())
    return text


def diff(repo: Repository, a: Record, b: Record) -> Diff:
    """What differs between two records; ComfyUI graphs are compared node by node."""
    return diff_records(a.to_dict(), b.to_dict(), a_id=a.id, b_id=b.id,
                        graph=diff_graphs(_prompt_graph(repo, a), _prompt_graph(repo, b)))


def _prompt_graph(repo: Repository, record: Record) -> dict[str, Any] | None:
    import orjson

    oid = record.source.blobs.get("prompt")
    if not oid:
        return None
    try:
        graph = orjson.loads(repo.store.read_bytes(oid))
    except (NotFound, orjson.JSONDecodeError):
        return None
    return graph if isinstance(graph, dict) else None


@dataclass(frozen=True)
class DiffNow:
    """A record's models against the files on disk now (``repro diff A --now``)."""

    record: str
    models: list[ModelStatus]

    @property
    def changed(self) -> list[ModelStatus]:
        return [m for m in self.models if m.status != "ok"]

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.record, "b": "now", "models": [m.to_dict() for m in self.models],
                "changed": [m.to_dict() for m in self.changed]}


def diff_now(repo: Repository, record: Record) -> DiffNow:
    """A record against the disk now: each model's status, and those that changed."""
    from repro.api.verify import locate, model_status
    from repro.api.where import Locator
    from repro.models.resolve import Resolver

    resolver, locator = Resolver(repo.config.model_roots, repo.stat_cache), Locator(repo)
    return DiffNow(record.id, [locate(model_status(repo, resolver, m), locator)
                               for m in record.models])
