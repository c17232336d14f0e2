"""``repro watch``: capture outputs as they are made."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import click

from repro.cli.options import State, json_option, store_mode_option
from repro.cli.render import display_path, short


def _render_event(event: dict[str, Any], as_json: bool, cwd: Path) -> None:
    if as_json:
        import orjson

        # One event per line (JSON Lines), so a reader can follow the stream.
        click.echo(orjson.dumps(event, option=orjson.OPT_NON_STR_KEYS).decode())
        return
    kind = event["event"]
    if kind in ("captured", "known"):
        word = "added" if kind == "captured" else "known"
        click.echo(f"{word} {short(event['id'])} {display_path(event['path'], cwd)} "
                   f"({event['level']})")
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
        where = display_path(event["path"], cwd) if event.get("path") else \
            event.get("prompt_id") or ""
        click.echo(f"{kind} {where}: {event.get('reason', '')}", err=True)


@click.command()
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
    from repro.watch.policy import watch as run_watch

    repo = state.repo()
    stop = threading.Event()

    def on_signal(_signum: int, _frame: Any) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    if folder is not None and url is None and not once and not as_json:
        click.echo(f"watching {folder} (Ctrl-C to stop)", err=True)
    try:
        run_watch(repo, state.here(folder), comfyui=url or None,
                  output_dir=state.here(output_dir), once=once,
                  interval=interval, allow_empty=allow_empty, no_env=no_env, mode=mode,
                  notify=lambda event: _render_event(event, as_json, state.cwd), stop=stop)
    except KeyboardInterrupt:
        stop.set()
    finally:
        signal.signal(signal.SIGTERM, previous)
