"""What ``rerun`` and ``vary`` share: a record's executed prompt, a ComfyUI server
to run it on, and one job run and captured as records linked to the record
it came from.

A job's outputs are captured only once the server says the job finished, in
one ``add`` (objects, then records, then the index): Ctrl-C while a job
waits or runs takes it off the server's queue and records nothing of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from repro.api.add import Captured, Live, add
from repro.api.repository import Repository
from repro.comfyui.client import ComfyClient, is_loopback
from repro.comfyui.history import SavedOutput, executed_graph, saved_outputs
from repro.comfyui.submit import Finished, Runner, missing_classes
from repro.errors import InputError, JobFailed, NotReproducible, UsageError
from repro.objects.atomic import write_bytes
from repro.record import Parent, Record

Progress = Callable[[str, int, int], None]
"""Called with (what, done, total); ``what`` says what the server is doing."""

#: Where outputs fetched with ``GET /view`` are kept when the server's folder is not local.
FETCHED_DIR = "reruns"


@dataclass(frozen=True)
class Recipe:
    """A record's executed ComfyUI prompt and its editor workflow (None if not kept)."""

    graph: dict[str, Any]
    workflow: dict[str, Any] | None


def executed(repo: Repository, record: Record) -> Recipe | None:
    """The prompt the server ran for ``record`` and its editor workflow: the graph of
    the ``/history`` entry when the record keeps one (what was queued, exactly),
    else the ``prompt`` blob the file carried; None when it keeps neither."""
    blobs = record.source.blobs
    workflow = _blob_json(repo, blobs.get("workflow"))
    history = _blob_json(repo, blobs.get("history"))
    if history is not None:
        try:
            ran = executed_graph(history)
        except InputError:
            pass
        else:
            return Recipe(ran.graph, ran.workflow or workflow)
    graph = _blob_json(repo, blobs.get("prompt"))
    return Recipe(graph, workflow) if graph is not None else None


def recipe(repo: Repository, record: Record) -> Recipe:
    """The executed prompt a record keeps, or ``NotReproducible``."""
    found = executed(repo, record)
    if record.tool.name != "comfyui" or found is None:
        raise NotReproducible(f"record {record.id[:12]} keeps no executed ComfyUI prompt "
                              f"(tool {record.tool.name})",
                              hint="only ComfyUI outputs can be re-run; `repro export` gives "
                                   "what the record holds")
    return found


def _blob_json(repo: Repository, oid: str | None) -> dict[str, Any] | None:
    if not oid:
        return None
    value = orjson.loads(repo.store.read_bytes(oid))
    return value if isinstance(value, dict) else None


def runner_for(repo: Repository, url: str | None) -> Runner:
    """The server at ``url``, or the config's ``[comfyui] url``."""
    url = url or repo.config.get("comfyui", "url")
    if not url:
        raise UsageError("which ComfyUI server?",
                         hint="give --comfyui URL or set [comfyui] url in .reprorc")
    return Runner(ComfyClient(url, timeout=30.0), client_id="repro-rerun")


def check_nodes(runner: Runner, recipe: Recipe) -> None:
    """Refuse, before submitting, a graph with node classes the server lacks,
    naming the custom-node package the workflow says each came from."""
    missing = missing_classes(recipe.graph, runner.object_info())
    if not missing:
        return
    packages = _packages(recipe.workflow)
    named = [f"node {node} {cls}" + (f" (from {packages[cls]})" if cls in packages else "")
             for node, cls in missing]
    raise JobFailed(f"ComfyUI at {runner.url} has no node class for: {', '.join(named)}",
                    hint="install the custom-node package(s) named, restart ComfyUI, "
                         "and run again")


def _packages(workflow: Mapping[str, Any] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    nodes = (workflow or {}).get("nodes")
    for node in nodes if isinstance(nodes, list) else []:
        props = node.get("properties") if isinstance(node, dict) else None
        if not isinstance(props, dict):
            continue
        package = props.get("cnr_id") or props.get("aux_id")
        if isinstance(package, str) and isinstance(node.get("type"), str):
            ver = props.get("ver")
            out[node["type"]] = f"{package} {ver}" if isinstance(ver, str) else package
    return out


@dataclass(frozen=True)
class Ran:
    """One job: what the server finished, its saved files on disk, their captures."""

    finished: Finished
    files: list[tuple[SavedOutput, Path]]
    captured: list[Captured]
    environment: dict[str, Any] | None


def run_job(repo: Repository, runner: Runner, recipe: Recipe, *, links: list[Parent],
            output_dir: Path | None = None, progress: Progress | None = None,
            label: str = "job", step: tuple[int, int] = (0, 1), mode: str | None = None,
            message: str | None = None) -> Ran:
    """Submit ``recipe``, follow it, and capture its saved outputs with ``links``."""
    extra = {"extra_pnginfo": {"workflow": recipe.workflow}} if recipe.workflow else None
    prompt_id = runner.submit(recipe.graph, extra)
    done, total = step

    def tick(state: str) -> None:
        if progress is not None:
            progress(f"{label}: {state}", done, total)

    try:
        finished = runner.wait(prompt_id, tick=tick)
    except KeyboardInterrupt:
        runner.cancel(prompt_id)
        raise
    saved = [o for o in saved_outputs(finished.entry) if o.type == "output"]
    if not saved:
        raise JobFailed(f"job {prompt_id} finished but saved no output",
                        hint="the graph needs a SaveImage (or another saving node)")
    files = [(o, _local_file(repo, runner, o, output_dir)) for o in saved]
    stats_raw, stats = runner.system_stats()
    env = _environment(repo, runner, stats)
    executed = executed_graph(finished.entry)
    live = {path: _live(executed.graph, executed.workflow, out, stats, env, finished.raw,
                        stats_raw)
            for out, path in files}
    result = add(repo, [p for _, p in files], live=live, links=links, environment=env,
                 mode=mode, allow_empty=True, message=message)
    return Ran(finished, files, result.records, env)


def _local_file(repo: Repository, runner: Runner, out: SavedOutput,
                output_dir: Path | None) -> Path:
    """The saved file: in the server's output folder when it is here, else fetched
    with ``GET /view`` into ``reruns/`` of the project."""
    from repro.models.roots import safe_relative

    rel = safe_relative(out.rel)
    folder = output_dir or _output_dir(repo)
    if folder is not None and (folder / rel).is_file():
        return folder / rel
    dest = repo.root / FETCHED_DIR / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(dest, runner.view(out.filename, out.subfolder), tmp_dir=repo.tmp_dir)
    return dest


def _output_dir(repo: Repository) -> Path | None:
    root = repo.config.path("comfyui", "root")
    return root / "output" if root is not None else None


def _environment(repo: Repository, runner: Runner, stats: dict[str, Any]
                 ) -> dict[str, Any] | None:
    from repro.comfyui.system_stats import server_environment

    if not repo.config.get("capture", "environment"):
        return None
    root = repo.config.path("comfyui", "root")
    local = None
    if root is not None or is_loopback(runner.url):
        from repro.environment.current import current_environment

        local = current_environment(comfyui_root=root)
    return server_environment(stats, local, url=runner.url)


def _live(graph: dict[str, Any], workflow: dict[str, Any] | None, out: SavedOutput,
          stats: dict[str, Any], env: dict[str, Any] | None, raw: bytes,
          stats_raw: bytes) -> Live:
    from repro.capture.comfyui import parse_prompt_graph

    gen = parse_prompt_graph(graph, workflow, output_node=out.node)
    gen.format, gen.formats = "comfyui-history", ["comfyui-history"]
    system = stats.get("system")
    gen.tool_version = system.get("comfyui_version") if isinstance(system, dict) else None
    return Live(generation=gen, environment=env,
                blobs={"history": raw, "system_stats": stats_raw})
