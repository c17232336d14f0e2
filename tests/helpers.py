"""Terse builders shared by the tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from repro.cli import main
from repro.demo import comfy_graph, model_bytes, set_mtime, write_comfy_png, write_safetensors


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *args: str | Path) -> Any:
    code, out, err = run(capsys, *args, "--json")
    assert code == 0, err
    return orjson.loads(out)


def repro_subprocess(*args: str | Path, cwd: Path,
                     preexec_fn: Callable[[], None] | None = None,
                     ) -> subprocess.CompletedProcess[str]:
    """Run the real ``repro`` console script in a subprocess."""
    exe = Path(sys.executable).with_name("repro")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPRO_")}
    return subprocess.run([str(exe), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=120, preexec_fn=preexec_fn)


def file_states(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root``: its size and modification time (to see that a
    command wrote nothing there)."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def img2img_graph(*, load_image: str, denoise: float, **txt2img: Any) -> dict[str, Any]:
    """``comfy_graph`` started from an input image: LoadImage -> VAEEncode in place of
    EmptyLatentImage, and the sampler's denoise below 1."""
    graph: dict[str, Any] = {}
    for node_id, node in comfy_graph(**txt2img).items():
        if node["class_type"] == "EmptyLatentImage":
            graph["11"] = {"class_type": "LoadImage", "inputs": {"image": load_image}}
            graph["12"] = {"class_type": "VAEEncode", "inputs": {"pixels": ["11", 0],
                                                                  "vae": ["4", 2]}}
        else:
            graph[node_id] = node
    graph["3"]["inputs"].update(denoise=denoise, latent_image=["12", 0])
    return graph


def make_project(root: Path, *, ckpt_seed: int = 1, lora_seed: int = 2) -> dict[str, Path]:
    """A project with a checkpoint and a LoRA under models/, dated in the past."""
    ckpt = write_safetensors(root / "models/checkpoints/base.safetensors",
                             model_bytes(ckpt_seed, 300_000))
    lora = write_safetensors(root / "models/loras/style.safetensors", model_bytes(lora_seed, 50_000))
    for p in (ckpt, lora):
        set_mtime(p, 7200)
    return {"ckpt": ckpt, "lora": lora}


def make_output(root: Path, name: str, *, seed: int, strength: float = 0.8,
                prompt: str = "a red fox in snow", lora: str | None = "style.safetensors",
                ckpt: str = "base.safetensors", **kw: Any) -> Path:
    graph = comfy_graph(ckpt=ckpt, lora=lora, lora_strength=strength, seed=seed,
                        prompt=prompt, **kw)
    path = write_comfy_png(root / "outputs" / name, graph, pixel_seed=seed)
    set_mtime(path, 3600)
    return path


def record_bytes(data: dict[str, Any]) -> bytes:
    """A record's JSON as canonical bytes, whatever it holds (tests write hostile ones)."""
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def record_of(data: dict[str, Any], rid: str | None = None) -> Any:
    """A typed record from JSON written by a test (schema 1 unless it says)."""
    from repro.record import Record, record_id

    data = {"schema": "repro.record/1", **data}
    return Record.from_dict(data, id=rid or record_id(record_bytes(data)))
