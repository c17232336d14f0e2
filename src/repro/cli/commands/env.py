"""``repro env``: the environment a capture records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from repro.cli.options import State, json_option
from repro.cli.render import emit_json


@click.command()
@click.option("--comfyui-root", type=click.Path(file_okay=False, path_type=Path),
              help="A ComfyUI folder (default: config comfyui.root).")
@click.option("--a1111-root", type=click.Path(file_okay=False, path_type=Path),
              help="An AUTOMATIC1111 / Forge folder (default: config a1111.root).")
@click.option("--invokeai-root", type=click.Path(file_okay=False, path_type=Path),
              help="An InvokeAI root folder (default: config invokeai.root).")
@click.option("--comfyui", metavar="URL",
              help="Also ask a running ComfyUI server (/system_stats).")
@json_option
@click.pass_obj
def env(state: State, comfyui_root: Path | None, a1111_root: Path | None,
        invokeai_root: Path | None, comfyui: str | None, as_json: bool) -> None:
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
    from repro.api.env import env as environment_of

    environment = environment_of(state.cwd, comfyui_root=state.here(comfyui_root),
                                 a1111_root=state.here(a1111_root),
                                 invokeai_root=state.here(invokeai_root), comfyui=comfyui)
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
