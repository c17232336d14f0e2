"""``repro env`` and ``repro watch``: the environment, and capture at creation time."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from repro.cli import State, emit_json, json_option, short, store_mode_option
from repro.cli import cli as group
from repro.errors import NotARepository, UsageError

if TYPE_CHECKING:
    from repro.config import Config


def _config(state: State) -> Config | None:
    """The repository's config when run inside one (``env`` works anywhere)."""
    try:
        return state.repo().config
    except NotARepository:
        return None


def _root(option: Path | None, config: Config | None, section: str) -> Path | None:
    if option is not None:
        return option.resolve()
    return config.path(section, "root") if config is not None else None


@group.command()
@click.option("--comfyui-root", type=click.Path(file_okay=False, path_type=Path),
              help="A ComfyUI folder (default: config comfyui.root).")
@click.option("--a1111-root", type=click.Path(file_okay=False, path_type=Path),
              help="An AUTOMATIC1111 / Forge folder (default: config a1111.root).")
@click.option("--invokeai-root", type=click.Path(file_okay=False, path_type=Path),
              help="An InvokeAI root folder (default: config invokeai.root).")
@click.option("--comfyui", "url", metavar="URL",
              help="Also ask a running ComfyUI server (/system_stats).")
@json_option
@click.pass_obj
def env(state: State, comfyui_root: Path | None, a1111_root: Path | None,
        invokeai_root: Path | None, url: str | None, as_json: bool) -> None:
    """The environment a capture records: OS, Python, CPU, GPU, PyTorch, tool, custom nodes.

    Tool folders come from the options or the config ([comfyui] root, [a1111]
    root, [invokeai] root); their git commits are read with dulwich and their
    Python packages from the venv's files, without running anything.

    \b
    Example:
      repro env
      repro env --comfyui-root ~/ComfyUI --json
      repro env --comfyui http://127.0.0.1:8188
    """
    from repro.environment.current import current_environment

    config = _config(state)
    comfy = _root(comfyui_root and state.cwd / comfyui_root, config, "comfyui")
    environment = current_environment(
        comfyui_root=comfy,
        a1111_root=_root(a1111_root and state.cwd / a1111_root, config, "a1111"),
        invokeai_root=_root(invokeai_root and state.cwd / invokeai_root, config, "invokeai"))
    url = url or (config.get("comfyui", "url") if config is not None else None)
    if url:
        from repro.api.comfyui_client import ComfyClient, server_environment

        _raw, stats = ComfyClient(url, timeout=5.0).system_stats()
        environment = server_environment(stats, environment, url=url)
    if as_json:
        emit_json(environment)
        return
    for line in environment_lines(environment):
        click.echo(line)


def environment_lines(e: dict[str, Any]) -> list[str]:
    """Readable lines for an environment dict (the ``repro env`` text)."""
    lines: list[str] = []

    def row(label: str, text: str) -> None:
        if text.strip():
            lines.append(f"{label:<13}{text}")

    os_info = e.get("os") or {}
    row("os", " ".join(str(os_info[k]) for k in ("distro", "system", "release", "machine", "name")
                       if os_info.get(k)))
    py = e.get("python") or {}
    row("python", " ".join(filter(None, [str(py.get("version") or ""),
                                         f"({py['env_path']})" if py.get("env_path") else "",
                                         f"({py['build']})" if py.get("build") else ""])))
    cpu = e.get("cpu") or {}
    row("cpu", f"{cpu.get('model') or ''}" + (f", {cpu['count']} cores" if cpu.get("count")
                                              else ""))
    gpus = e.get("gpu") or []
    if not gpus:
        row("gpu", "none found (no NVIDIA driver or nvidia-smi)")
    for g in gpus:
        bits = [str(g.get("name") or g.get("device") or "?")]
        for key, word in (("architecture", ""), ("compute_capability", "sm "),
                          ("memory_total_mib", ""), ("vram_total", "")):
            if g.get(key):
                value = g[key]
                if key == "memory_total_mib":
                    value = f"{value} MiB"
                elif key == "vram_total":
                    value = f"{int(value) // 2**20} MiB"
                bits.append(f"{word}{value}")
        row("gpu", ", ".join(bits))
    driver = ", ".join(filter(None, [str(e.get("driver") or ""),
                                     f"supports CUDA {e['driver_cuda']}"
                                     if e.get("driver_cuda") else ""]))
    row("driver", driver)
    torch = e.get("torch") or {}
    if torch:
        row("torch", ", ".join(filter(None, [
            str(torch.get("version") or ""),
            f"CUDA {e.get('cuda') or torch.get('cuda')}" if e.get("cuda") or torch.get("cuda")
            else "",
            f"cuDNN {e.get('cudnn') or torch.get('cudnn')}" if e.get("cudnn")
            or torch.get("cudnn") else ""])))
    else:
        row("torch", "not installed in this Python (give the tool's folder: --comfyui-root)")
    if e.get("tool"):
        commit = e.get("tool_commit")
        state = "" if e.get("tool_dirty") is None else (
            ", dirty" if e["tool_dirty"] else ", clean")
        row("tool", f"{e['tool']} {e.get('tool_version') or ''}".rstrip()
            + (f", commit {commit[:12]}" if commit else "")
            + (f" ({e['tool_branch']})" if e.get("tool_branch") else "") + state)
    if e.get("argv"):
        row("launched", " ".join(e["argv"]))
    if (e.get("server") or {}).get("url"):
        row("server", e["server"]["url"])
    for key, title in (("custom_nodes", "custom nodes"), ("extensions", "extensions")):
        items = e.get(key)
        if not items:
            continue
        lines.append(f"{title} ({len(items)}):")
        for item in items:
            if item.get("git") is False:
                where = "not a git repository"
            else:
                where = (item.get("commit") or "?")[:12]
                if item.get("dirty") is not None:
                    where += " dirty" if item["dirty"] else " clean"
            extra = "  disabled" if item.get("disabled") else ""
            remote = f"  {item['remote']}" if item.get("remote") else ""
            lines.append(f"  {item.get('name', '?'):<32} {where}{extra}{remote}")
    packages = e.get("packages") or {}
    if packages:
        row("packages", ", ".join(f"{k} {v}" for k, v in packages.items()))
    return lines


# -- watch --------------------------------------------------------------------------------


def _render_event(event: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(event)
        return
    kind = event["event"]
    if kind in ("captured", "known"):
        word = "added" if kind == "captured" else "known"
        click.echo(f"{word} {short(event['id'])} {event['path']} ({event['level']})")
        if kind == "captured":
            for reason in event.get("reasons") or []:
                click.echo(f"    - {reason}")
    elif kind == "failed":
        click.echo(f"failed prompt #{event.get('number')} {event['prompt_id']}: "
                   f"{event['reason']} (nothing to capture)", err=True)
    elif kind == "empty":
        click.echo(f"prompt #{event.get('number')} {event['prompt_id']} saved no output")
    elif kind == "unreachable":
        click.echo(f"server unreachable: {event['reason']}; outputs that appear meanwhile "
                   "are captured from their files", err=True)
    elif kind == "reachable":
        click.echo(f"server {event['url']} answers again", err=True)
    else:
        where = event.get("path") or event.get("prompt_id") or ""
        click.echo(f"{kind} {where}: {event.get('reason', '')}", err=True)


@group.command()
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--comfyui", "url", metavar="URL",
              help="Follow a running ComfyUI server instead of a folder.")
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path),
              help="The server's output folder (default: config comfyui.root/output).")
@click.option("--once", is_flag=True, help="Catch up with what is there now, then exit.")
@click.option("--interval", type=click.FloatRange(min=0.05), default=1.0, show_default=True,
              help="Seconds between polls.")
@click.option("--allow-empty", is_flag=True,
              help="Also capture images without generation metadata (folder mode).")
@click.option("--no-env", is_flag=True, help="Do not record the environment.")
@store_mode_option
@json_option
@click.pass_obj
def watch(state: State, folder: Path | None, url: str | None, output_dir: Path | None,
          once: bool, interval: float, allow_empty: bool, no_env: bool, mode: str | None,
          as_json: bool) -> None:
    """Capture outputs as they are made: from a folder, or from a running ComfyUI.

    FOLDER: new images are captured once completely written; temp and preview
    files are ignored; a restart catches up and never captures twice.
    --comfyui URL: each finished prompt's outputs are captured with the
    executed prompt (/history), the server's versions, GPU and launch flags
    (/system_stats) and the install's git state. Stops on Ctrl-C.

    \b
    Example:
      repro watch outputs/
      repro watch --comfyui http://127.0.0.1:8188 --once
    """
    from repro.api.watch import follow_comfyui, watch_folder

    if (folder is None) == (url is None):
        raise UsageError("give either FOLDER or --comfyui URL",
                         hint="repro watch outputs/  or  repro watch --comfyui "
                              "http://127.0.0.1:8188")
    repo = state.repo()
    config = repo.config
    url = url or None
    record_env = not no_env and bool(config.get("capture", "environment"))
    comfy_root = config.path("comfyui", "root")

    def environment() -> dict[str, Any] | None:
        if not record_env:
            return None
        if url is not None:
            from repro.api.comfyui_client import is_loopback
            from repro.environment.current import current_environment

            # This machine's probe describes a server elsewhere only through its folder.
            if comfy_root is None and not is_loopback(url):
                return None
            return current_environment(comfyui_root=comfy_root)
        from repro.api.environment_now import configured_environment

        return configured_environment(config)

    stop = threading.Event()

    def on_signal(_signum: int, _frame: Any) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)

    def notify(event: dict[str, Any]) -> None:
        _render_event(event, as_json)

    try:
        if url is not None:
            out = state.cwd / output_dir if output_dir else (
                comfy_root / "output" if comfy_root else None)
            if out is None:
                raise UsageError("where does the server save its outputs?",
                                 hint="give --output-dir DIR or set [comfyui] root in .reprorc")
            follow_comfyui(repo, url, output_dir=out, once=once, interval=interval, stop=stop,
                           environment=environment, record_environment=record_env,
                           notify=notify, mode=mode)
        else:
            assert folder is not None
            if not once and not as_json:
                click.echo(f"watching {state.cwd / folder} (Ctrl-C to stop)", err=True)
            watch_folder(repo, state.cwd / folder, once=once, interval=interval, stop=stop,
                         environment=environment, notify=notify, allow_empty=allow_empty,
                         mode=mode)
    except KeyboardInterrupt:
        stop.set()
    finally:
        signal.signal(signal.SIGTERM, previous)
