"""The ``repro`` command line: argument plumbing, one library call, rendering.

This is the only module that uses click, prints, reads environment variables
or prompts. Errors become one ``error:`` line (and a ``hint:``) on stderr with
the error's exit code; tracebacks only with ``--debug``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from repro import __version__
from repro.config import STORE_MODES
from repro.errors import ReproError

if TYPE_CHECKING:
    from repro.api.repository import Repository
    from repro.lineage.record import Record

F = TypeVar("F", bound=Callable[..., Any])


# -- plumbing -------------------------------------------------------------------


class State:
    def __init__(self, cwd: Path, debug: bool):
        self.cwd = cwd
        self.debug = debug
        self.lock_timeout: float | None = None

    def repo(self) -> Repository:
        from repro.api.repository import Repository

        repo = Repository.discover(self.cwd)
        repo.notify = _note
        if self.lock_timeout is not None:
            repo.config.values["lock"]["timeout"] = self.lock_timeout
        return repo


def _note(message: str) -> None:
    click.echo(f"repro: {message}", err=True)


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True,
                        help="Print machine-readable JSON on stdout.")(f)


def lock_timeout_option(f: F) -> F:
    """``--lock-timeout S`` on every command that writes."""

    def remember(ctx: click.Context, _param: click.Parameter, value: float | None) -> None:
        if value is not None:
            ctx.find_object(State).lock_timeout = value  # type: ignore[union-attr]

    return click.option("--lock-timeout", type=float, expose_value=False, callback=remember,
                        help="Seconds to wait for another writer (default: config "
                             "lock.timeout), then fail with exit status 6.")(f)


def store_mode_option(f: F) -> F:
    """``--mode`` on the commands that put model files into the store."""
    return click.option("--mode", type=click.Choice(STORE_MODES),
                        help="How model files enter the store (default: config store.mode).")(f)


def emit_json(value: Any) -> None:
    import orjson

    sys.stdout.buffer.write(orjson.dumps(value, option=orjson.OPT_INDENT_2
                                         | orjson.OPT_NON_STR_KEYS) + b"\n")
    sys.stdout.flush()


class Progress:
    """A one-line progress indicator on stderr, shown only on a terminal."""

    def __init__(self, label: str = "") -> None:
        self.enabled = sys.stderr.isatty() and not os.environ.get("REPRO_NO_PROGRESS")
        self.label = label
        self.shown = False

    def __call__(self, what: str, done: int, total: int) -> None:
        if not self.enabled or total < 2:
            return
        width = 30
        filled = int(width * done / total)
        count = (f"{done / 2**20:.0f}/{total / 2**20:.0f} MiB" if total >= 2**20
                 else f"{done}/{total}")
        click.echo(f"\r\x1b[K{what} [{'#' * filled}{'.' * (width - filled)}] {count}",
                   err=True, nl=False)
        self.shown = True

    def done(self) -> None:
        if self.shown:
            click.echo("\r\x1b[K", err=True, nl=False)


def display_path(path: str, cwd: Path) -> str:
    """A path as a person typed it: relative to where the command ran, when below it."""
    try:
        return str(Path(path).relative_to(cwd))
    except ValueError:
        return path


def short(oid: str | None) -> str:
    return (oid or "?")[:12]


def target_record(state: State, repo: Repository, target: str) -> Record:
    return repo.resolve_target(target, cwd=state.cwd)


# -- the group --------------------------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-C", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Run as if started in DIR.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(__version__, prog_name="repro")
@click.pass_context
def cli(ctx: click.Context, directory: Path | None, debug: bool) -> None:
    """repro: versioned, content-addressed capture of generated images.

    Every output gets an execution snapshot: the parameters the engine used,
    every model file by content hash, the raw metadata, the tool and the
    environment. Then ask where an image came from, what differs between two
    images, and put the exact model versions back.

    \b
    Example:
      repro init
      repro add outputs/
      repro verify outputs/ComfyUI_00001_.png
    """
    cwd = (directory or Path.cwd()).resolve() if directory else Path.cwd()
    if directory and not cwd.is_dir():
        raise ReproError(f"-C {directory}: no such folder")
    ctx.obj = State(cwd, debug)


# -- init / inspect / add -------------------------------------------------------------


@cli.command()
@click.argument("path", required=False, type=click.Path(file_okay=False, path_type=Path))
@json_option
@click.pass_obj
def init(state: State, path: Path | None, as_json: bool) -> None:
    """Create a repository (a .repro folder) in PATH (default: here).

    \b
    Example:
      repro init ~/art/client-x
    """
    from repro.api.repository import Repository

    repo = Repository.init(state.cwd / path if path else state.cwd)
    if as_json:
        emit_json({"root": str(repo.root)})
    else:
        click.echo(f"Initialised an empty repro repository in {repo.dot}")


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@json_option
@click.pass_obj
def inspect(state: State, files: tuple[Path, ...], as_json: bool) -> None:
    """Read the generation metadata of image files (needs no repository).

    \b
    Example:
      repro inspect ComfyUI_00001_.png --json
    """
    from repro.api.query import inspect as inspect_files

    paths = [state.cwd / f for f in files]
    for p in paths:
        if not p.exists():
            raise ReproError(f"{p}: no such file")
    results = inspect_files(paths)
    if as_json:
        emit_json(results)
        return
    for r in results:
        _render_inspect(r)


def _render_inspect(r: dict[str, Any]) -> None:
    tool = r["tool"]
    click.secho(r["path"], bold=True)
    if tool is None:
        click.echo(f"  no generation metadata ({r['media_type']}, {r['width']}x{r['height']})")
        if r.get("provenance"):
            for key, value in r["provenance"].items():
                click.echo(f"  {key}: {value}")
        for reason in r["reasons"]:
            click.echo(f"  - {reason}")
        return
    version = f" {tool['version']}" if tool.get("version") else ""
    click.echo(f"  tool      {tool['name']}{version}  ({r['format']}, {r['metadata']})")
    _render_params(r["params"], indent="  ")
    for m in r["models"]:
        extra = f" strength {m['strength']}" if m.get("strength") is not None else ""
        hashes = " ".join(f"{k}:{v}" for k, v in (m.get("hashes") or {}).items())
        click.echo(f"  model     {m['role']:<12} {m.get('name') or '?'}{extra}"
                   + (f"  [{hashes}]" if hashes else ""))
    for i in r["inputs"]:
        click.echo(f"  input     {i['role']:<12} {i.get('name') or '?'}")
    click.echo(f"  level     {r['level']}")
    for reason in r["reasons"]:
        click.echo(f"    - {reason}")
    for warning in r["warnings"]:
        click.echo(f"  warning   {warning}")


def _render_params(params: dict[str, Any], indent: str) -> None:
    for key in ("prompt", "negative_prompt"):
        if params.get(key):
            text = str(params[key]).replace("\n", " ")
            click.echo(f"{indent}{key:<9} {text[:200]}{'...' if len(text) > 200 else ''}")
    line = ", ".join(f"{k} {params[k]}" for k in (
        "seed", "steps", "cfg", "sampler", "scheduler", "denoise", "width", "height",
        "clip_skip", "rng") if params.get(k) is not None)
    if line:
        click.echo(f"{indent}params    {line}")
    stages = params.get("samplers") or []
    if len(stages) > 1:
        for s in stages:
            click.echo(f"{indent}  stage   node {s.get('node')} {s.get('class_type')}: seed "
                       f"{s.get('seed')}, steps {s.get('steps')}, cfg {s.get('cfg')}, "
                       f"{s.get('sampler')}/{s.get('scheduler')}, denoise {s.get('denoise')}")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--parent", "parents", multiple=True, metavar="TARGET",
              help="A record this output derives from (repeatable).")
@click.option("-m", "--message", help="A note stored with the record.")
@click.option("--tag", help="Name the (last) captured record.")
@store_mode_option
@click.option("--allow-empty", is_flag=True,
              help="Also capture images that carry no generation metadata (level none).")
@click.option("--no-env", is_flag=True, help="Do not record this machine's environment.")
@lock_timeout_option
@json_option
@click.pass_obj
def add(state: State, paths: tuple[Path, ...], parents: tuple[str, ...], message: str | None,
        tag: str | None, mode: str | None, allow_empty: bool, no_env: bool,
        as_json: bool) -> None:
    """Capture output images (folders recurse): metadata, models by content, lineage.

    \b
    Example:
      repro add outputs/ComfyUI_00042_.png --tag client-final
      repro add outputs/ --json
    """
    from repro.api.add import add as add_files
    from repro.errors import InputError

    repo = state.repo()
    full = [state.cwd / p for p in paths]
    for p in full:
        if not p.exists():
            raise ReproError(f"{p}: no such file or folder")
    environment = None
    if not no_env and repo.config.get("capture", "environment"):
        from repro.api.environment_now import configured_environment

        environment = configured_environment(repo.config)
    progress = Progress()
    result = add_files(repo, full, parents=parents, message=message, tag=tag, mode=mode,
                       allow_empty=allow_empty, environment=environment, progress=progress)
    progress.done()
    if as_json:
        emit_json(result.to_dict())
    else:
        for r in result.records:
            state_word = "known" if r["existing"] else "added"
            click.echo(f"{state_word} {short(r['id'])} {display_path(r['path'], state.cwd)} "
                       f"({r['tool']}, {r['level']})")
            if not r["existing"]:
                for reason in r["reasons"]:
                    click.echo(f"    - {reason}")
        if result.skipped:
            for s in result.skipped[:20]:
                click.echo(f"skipped {s['path']}: {s['reason']}", err=True)
            if len(result.skipped) > 20:
                click.echo(f"skipped {len(result.skipped) - 20} more", err=True)
    if not result.records:
        raise InputError(f"nothing captured ({len(result.skipped)} file(s) skipped)",
                         hint="repro add takes PNG, JPEG or WebP outputs that carry "
                              "generation metadata")


# -- show / log / diff --------------------------------------------------------------


@cli.command()
@click.argument("target")
@json_option
@click.pass_obj
def show(state: State, target: str, as_json: bool) -> None:
    """Show one record: output, tool, parameters, models, inputs, parents, level.

    \b
    Example:
      repro show outputs/ComfyUI_00042_.png
    """
    repo = state.repo()
    record = target_record(state, repo, target)
    if as_json:
        emit_json(record.to_dict())
        return
    _render_record(record, full=True)


def _render_record(record: Record, *, full: bool) -> None:
    d = record.data
    out = record.output
    click.secho(f"record {record.id}", fg="yellow")
    click.echo(f"  output    {out.get('path')}  (blake3 {short(out.get('blake3'))}, "
               f"{out.get('width')}x{out.get('height')})")
    tool = d.get("tool") or {}
    click.echo(f"  tool      {tool.get('name')} {tool.get('version') or ''}".rstrip())
    click.echo(f"  captured  {(d.get('captured') or {}).get('at')}")
    if full:
        _render_params(record.params, indent="  ")
        for m in record.models:
            where = m.get("path") or "not found"
            extra = f" strength {m['strength']}" if m.get("strength") is not None else ""
            click.echo(f"  model     {m.get('role'):<12} {m.get('name')}{extra} -> {where} "
                       f"(blake3 {short(m.get('blake3'))})")
        for i in record.inputs:
            click.echo(f"  input     {i.get('role'):<12} {i.get('name')} "
                       f"(blake3 {short(i.get('blake3'))})")
    for p in record.parents:
        click.echo(f"  parent    {short(p)}")
    repro = d.get("reproducibility") or {}
    click.echo(f"  level     {repro.get('level')}")
    if full:
        for reason in repro.get("reasons") or []:
            click.echo(f"    - {reason}")
    if d.get("message"):
        click.echo(f"\n    {d['message']}")


@cli.command()
@click.argument("target", required=False)
@click.option("-n", "limit", type=click.IntRange(min=1), help="Show at most N records.")
@click.option("--graph", is_flag=True, help="Draw the ancestry as a text graph.")
@click.option("--descendants", is_flag=True, help="Walk to descendants instead of ancestors.")
@json_option
@click.pass_obj
def log(state: State, target: str | None, limit: int | None, graph: bool,
        descendants: bool, as_json: bool) -> None:
    """A record and its ancestors; without TARGET, every record, newest first.

    \b
    Example:
      repro log outputs/upscaled.png --graph
    """
    from repro.api.query import log as log_records

    repo = state.repo()
    record = target_record(state, repo, target) if target else None
    records = log_records(repo, record, limit=limit, descendants=descendants)
    if as_json:
        emit_json([r.to_dict() for r in records])
        return
    if graph:
        from repro.api.query import parent_map
        from repro.lineage.textgraph import render_text_graph

        for line in render_text_graph(records, parent_map(repo, records)):
            click.echo(line)
        return
    for r in records:
        _render_record(r, full=False)
        click.echo()


@cli.command()
@click.argument("a")
@click.argument("b", required=False)
@click.option("--now", is_flag=True,
              help="Compare A with the model files on disk now instead of with B.")
@json_option
@click.pass_obj
def diff(state: State, a: str, b: str | None, now: bool, as_json: bool) -> None:
    """What differs between two records: seed, prompt words, model versions, ...

    With --now, which of A's models changed on disk since it was made.

    \b
    Example:
      repro diff monday.png friday.png
      repro diff monday.png --now
    """
    from repro.api.query import diff as diff_records
    from repro.lineage.diff import is_empty

    repo = state.repo()
    ra = target_record(state, repo, a)
    if now or b is None:
        if b is not None or not now:
            raise ReproError("give two records, or one record and --now",
                             hint="repro diff A B, or repro diff A --now")
        from repro.api.query import diff_now

        report = diff_now(repo, ra)
        if as_json:
            emit_json(report)
            return
        click.echo(f"a   {short(ra.id)} {ra.output.get('path')}")
        click.echo("now the model files on disk")
        for m in report["models"]:
            if m["status"] == "ok":
                continue
            what = {"changed": f"a different version is on disk now ({short(m.get('now'))})",
                    "moved": f"moved or renamed to {m['path']}",
                    "missing": "no longer on disk",
                    "metadata-only": "only the safetensors header changed (same tensors)",
                    }.get(m["status"], m["status"])
            click.echo(f"  {m['role']} {m['name']} (recorded {short(m['blake3'])}): {what}")
        if not report["changed"]:
            click.echo("  every model is on disk at its recorded version")
        return
    rb = target_record(state, repo, b)
    result = diff_records(repo, ra, rb)
    if as_json:
        emit_json(result)
        return
    click.echo(f"a {short(ra.id)} {ra.output.get('path')}")
    click.echo(f"b {short(rb.id)} {rb.output.get('path')}")
    if is_empty(result):
        click.echo("no differences in parameters, models, inputs, tool or environment")
        return
    for line in _diff_sentences(result):
        click.echo(f"  {line}")


def _diff_sentences(d: dict[str, Any]) -> list[str]:
    lines = []
    for k, (va, vb) in d["params"]["changed"].items():
        lines.append(f"{k} changed from {va!r} to {vb!r}")
    for k, v in d["params"]["added"].items():
        lines.append(f"{k} set to {v!r} in b only")
    for k, v in d["params"]["removed"].items():
        lines.append(f"{k} was {v!r} in a, absent in b")
    for key in ("prompt", "negative_prompt"):
        words = d[key]
        if words["added"] or words["removed"]:
            parts = []
            if words["removed"]:
                parts.append("removed " + ", ".join(repr(w) for w in words["removed"]))
            if words["added"]:
                parts.append("added " + ", ".join(repr(w) for w in words["added"]))
            lines.append(f"{key.replace('_', ' ')}: " + "; ".join(parts))
        for w in words.get("reweighted") or []:
            lines.append(f"{key.replace('_', ' ')}: the weight of {w['term']!r} changed "
                         f"from {w['a']:g} to {w['b']:g}")
    models = d["models"]
    for m in models["changed"]:
        lines.append(f"{m['role']} {m['name']}: a different version (same name): "
                     f"{short(m['a'])} -> {short(m['b'])}")
    for m in models["renamed"]:
        lines.append(f"{m['role']} renamed: {m['a']} -> {m['b']} (same content "
                     f"{short(m['blake3'])})")
    for m in models["strength"]:
        lines.append(f"{m['role']} {m['name']}: {m['field']} {m['a']} -> {m['b']}")
    for m in models["added"]:
        lines.append(f"{m['role']} {m.get('name')} used in b only")
    for m in models["removed"]:
        lines.append(f"{m['role']} {m.get('name')} used in a only")
    for i in d["inputs"]["changed"]:
        lines.append(f"input {i['name']}: different content {short(i['a'])} -> {short(i['b'])}")
    for i in d["inputs"]["added"]:
        lines.append(f"input {i.get('role')} {i.get('name')} used in b only")
    for i in d["inputs"]["removed"]:
        lines.append(f"input {i.get('role')} {i.get('name')} used in a only")
    graph = d.get("graph") or {}
    for n in graph.get("added", []):
        lines.append(f"node {n['node']} ({n['class_type']}) added in b")
    for n in graph.get("removed", []):
        lines.append(f"node {n['node']} ({n['class_type']}) removed in b")
    for n in graph.get("changed", []):
        changes = ", ".join(f"{k} {_node_value(va)} -> {_node_value(vb)}"
                            for k, (va, vb) in n["inputs"].items())
        lines.append(f"node {n['node']} ({n['class_type']}): {changes}")
    for section in ("tool", "environment"):
        for k, (va, vb) in d[section]["changed"].items():
            lines.append(f"{section} {k}: {va!r} -> {vb!r}")
        for k, v in d[section]["added"].items():
            lines.append(f"{section} {k}: {v!r} in b only")
        for k, v in d[section]["removed"].items():
            lines.append(f"{section} {k}: {v!r} in a only")
    return lines


def _node_value(value: Any) -> str:
    if isinstance(value, list) and len(value) == 2 and isinstance(value[1], int):
        return f"<output {value[1]} of node {value[0]}>"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# -- verify / checkout -----------------------------------------------------------------


@cli.command()
@click.argument("target", required=False)
@click.option("--comfyui", "comfyui_url", metavar="URL",
              help="Compare the environment with this running ComfyUI's (/system_stats).")
@json_option
@click.pass_obj
def verify(state: State, target: str | None, comfyui_url: str | None, as_json: bool) -> None:
    """Can TARGET be reproduced now, and if not, exactly why (without TARGET: every record).

    Exit status 0 when ready (every model at its recorded version), 1 otherwise.
    The recorded environment is compared with the current one where it can be
    known (the config's tool folders, or --comfyui URL).

    \b
    Example:
      repro verify outputs/ComfyUI_00042_.png --comfyui http://127.0.0.1:8188
    """
    from repro.api.environment_now import environment_now
    from repro.api.verify import verify as verify_record

    repo = state.repo()
    current = environment_now(repo, comfyui_url=comfyui_url)
    if target:
        records = [target_record(state, repo, target)]
    else:
        from repro.api.query import log as log_records

        records = log_records(repo, None)
    from repro.models.resolve import Resolver

    resolver = Resolver(repo.config.model_roots, repo.stat_cache)
    results = [verify_record(repo, r, current, resolver=resolver) for r in records]
    if as_json:
        emit_json(results[0].to_dict() if target else [r.to_dict() for r in results])
    else:
        for r, rec in zip(results, records, strict=True):
            ready = "ready" if r.ready else "NOT ready"
            click.echo(f"{short(r.id)} {rec.output.get('path')}: {r.level}, {ready}")
            for m in r.models:
                click.echo(f"  {m.status:<13} {m.role} {m.name or ''} -> {m.path or '?'}"
                           + ("" if m.in_store else "  (not in store)"))
            for reason in r.reasons:
                click.echo(f"  - {reason}")
    if not all(r.ready for r in results):
        raise click.exceptions.Exit(1)


@cli.command()
@click.argument("target")
@click.option("--to", "to", type=click.Path(file_okay=False, path_type=Path),
              help="Restore under DIR instead of the model roots.")
@click.option("--force", is_flag=True,
              help="Overwrite files with other content (they are stored first).")
@click.option("--dry-run", is_flag=True, help="Only say what would be written.")
@click.option("--inputs", is_flag=True, help="Restore the recorded input images too.")
@click.option("--mode", type=click.Choice([m for m in STORE_MODES if m != "reference"]),
              help="How files are restored (default: config store.mode).")
@lock_timeout_option
@json_option
@click.pass_obj
def checkout(state: State, target: str, to: Path | None, force: bool, dry_run: bool,
             inputs: bool, mode: str | None, as_json: bool) -> None:
    """Put the exact recorded model versions back where the tool looks for them.

    Never overwrites a file with other content unless --force, and then the
    displaced file is stored first, so nothing is lost.

    \b
    Example:
      repro checkout outputs/ComfyUI_00042_.png --dry-run
      repro checkout outputs/ComfyUI_00042_.png --force
    """
    from repro.api.checkout import checkout as checkout_record

    repo = state.repo()
    record = target_record(state, repo, target)
    result = checkout_record(repo, record, to=(state.cwd / to) if to else None, force=force,
                             dry_run=dry_run, inputs=inputs, mode=mode)
    if as_json:
        emit_json(result.to_dict())
        return
    verb = "would restore" if dry_run else "restored"
    for e in result.restored:
        click.echo(f"{verb} {e['path']} ({e['role']} {e['name']}, blake3 {short(e['blake3'])})")
    for e in result.displaced:
        click.echo(f"stored the displaced {e['path']} as {short(e['blake3'])}")
    for e in result.unchanged:
        click.echo(f"unchanged {e['path']}")
    for e in result.conflicts:
        click.echo(f"conflict {e['path']}: other content (use --force)")
    for e in result.unavailable:
        click.echo(f"unavailable {e['role']} {e['name']}: {e['reason']}")


# -- uses -----------------------------------------------------------------------------


@cli.command()
@click.argument("model")
@click.option("--any-version", is_flag=True,
              help="Every version ever seen under the model's names.")
@json_option
@click.pass_obj
def uses(state: State, model: str, any_version: bool, as_json: bool) -> None:
    """Outputs made with MODEL (a file, a recorded name, or a hash prefix).

    \b
    Example:
      repro uses models/loras/client_style.safetensors --any-version
    """
    from repro.api.query import uses as records_using
    from repro.api.query import uses_by_version

    repo = state.repo()
    if any_version:
        groups = uses_by_version(repo, model, cwd=state.cwd)
        if as_json:
            emit_json([{**g, "records": [r.to_dict() for r in g["records"]]} for g in groups])
            return
        for g in groups:
            click.secho(f"version {short(g['blake3'])} ({', '.join(g['names'])}): "
                        f"{len(g['records'])} output(s)", bold=True)
            for r in g["records"]:
                click.echo(f"  {short(r.id)} {r.output.get('path')} ({r.tool_name}, {r.level})")
        return
    records = records_using(repo, model, cwd=state.cwd)
    if as_json:
        emit_json([r.to_dict() for r in records])
        return
    for r in records:
        click.echo(f"{short(r.id)} {r.output.get('path')} ({r.tool_name}, {r.level})")


# -- fsck / gc ------------------------------------------------------------------------


@cli.command()
@click.option("--repair", is_flag=True,
              help="Rebuild the index, move corrupt objects aside (never deletes).")
@click.option("--rebuild-index", is_flag=True, help="Only rebuild the derived index.")
@lock_timeout_option
@json_option
@click.pass_obj
def fsck(state: State, repair: bool, rebuild_index: bool, as_json: bool) -> None:
    """Re-hash every object; check every record and the index.

    Exit status 0 when no problem is found (leftover temp files aside).

    \b
    Example:
      repro fsck
    """
    from repro.api import maintenance

    repo = state.repo()
    if rebuild_index:
        with repo.lock():
            n = repo.rebuild_index()
        if as_json:
            emit_json({"problems": [], "rebuilt": n})
        else:
            click.echo(f"rebuilt the index from {n} records")
        return
    progress = Progress()
    problems = list(maintenance.fsck(repo, progress=progress))
    progress.done()
    actions = maintenance.repair(repo, problems) if repair else []
    if as_json:
        emit_json({"problems": [p.to_dict() for p in problems], "repaired": actions})
    else:
        for p in problems:
            click.echo(f"{p.kind}: {p.message}")
        for a in actions:
            click.echo(f"repaired: {a}")
        if not problems:
            click.echo("no problems found")
    serious = [p for p in problems if p.kind != "tmp"]
    if serious and not repair:
        raise click.exceptions.Exit(1)


@cli.command()
@click.option("--dry-run", is_flag=True, help="List what would be removed.")
@click.option("--grace-days", type=float, help="Keep unreachable objects younger than this.")
@lock_timeout_option
@json_option
@click.pass_obj
def gc(state: State, dry_run: bool, grace_days: float | None, as_json: bool) -> None:
    """Remove objects no record, tag or kept file names, past a grace period.

    \b
    Example:
      repro gc --dry-run
    """
    from repro.api.maintenance import gc as collect

    repo = state.repo()
    result = collect(repo, dry_run=dry_run, grace_days=grace_days)
    if as_json:
        emit_json(result.to_dict())
        return
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{verb} {result.removed} object(s), {result.bytes} bytes")


# -- demo ------------------------------------------------------------------------------


@cli.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.pass_obj
def demo(state: State, directory: Path | None) -> None:
    """Run the story repro exists for, in a scratch folder, printing each command.

    Images carrying real ComfyUI and AUTOMATIC1111 metadata and small model
    files are generated; a checkpoint is then updated under the same name and a
    LoRA renamed; verify explains, checkout restores, diff compares.

    \b
    Example:
      repro demo /tmp/repro-demo
    """
    import tempfile

    from repro.demo import Action, Command, Note, story

    if directory is None:
        root = Path(tempfile.mkdtemp(prefix="repro-demo-"))
    else:
        root = (state.cwd / directory).resolve()
        if root.exists() and any(root.iterdir()):
            raise ReproError(f"{root} is not empty", hint="give a new or empty folder")
        root.mkdir(parents=True, exist_ok=True)
    failures = []
    for step in story(root):
        if isinstance(step, Note):
            click.secho(f"\n# {step.text}", fg="cyan")
        elif isinstance(step, Action):
            click.secho(f"$ {step.text}", fg="green")
            step.run()
        elif isinstance(step, Command):
            click.secho(f"$ repro {' '.join(step.args)}", fg="green")
            code = main(["-C", str(root), *step.args])
            if (code != 0) != step.expect_failure:
                failures.append(f"repro {' '.join(step.args)} exited {code}")
    if failures:
        raise ReproError("the demo did not go as scripted: " + "; ".join(failures))
    click.secho(f"\nThe demo project is in {root}", bold=True)


# -- commands that live in their own modules --------------------------------------------
# Each module registers its commands on ``cli`` when imported; add one line per module.

from repro.cli import _registry  # noqa: E402, F401

# -- entry point ----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Console entry point: run the CLI and turn errors into exit codes."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    _arm_test_hooks()
    try:
        code = cli.main(args=argv, prog_name="repro", standalone_mode=False)
    except ReproError as exc:
        if debug:
            raise
        click.echo(f"error: {exc}", err=True)
        if exc.hint:
            click.echo(f"hint: {exc.hint}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        return 130
    except BrokenPipeError:
        return 141
    except OSError as exc:
        if debug:
            raise
        click.echo(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
        return 1
    except Exception as exc:
        if debug:
            raise
        if type(exc).__module__ == "sqlite3":  # e.g. "database or disk is full"
            click.echo(f"error: the index database: {exc}", err=True)
            click.echo("hint: free disk space if it is full; a damaged index is rebuilt by "
                       "`repro fsck --repair`", err=True)
            return 1
        click.echo(f"error: internal error: {type(exc).__name__}: {exc}", err=True)
        click.echo("hint: run again with --debug for the traceback, and report it", err=True)
        return 1
    return code if isinstance(code, int) else 0


def _arm_test_hooks() -> None:
    """Crash points for the reliability tests (``repro.objects.faults``); off unless set."""
    crash_at = os.environ.get("REPRO_TEST_CRASH_AT")
    delay = os.environ.get("REPRO_TEST_CHECKPOINT_DELAY")
    if not crash_at and not delay:
        return
    from repro.objects import faults

    try:
        seconds = float(delay or 0)
    except ValueError:
        seconds = 0.0
    faults.arm(crash_at, delay=seconds)


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
