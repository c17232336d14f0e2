"""What a one-image ``add`` imports (issue 17 item 11: its fixed cost).

Each command runs in a fresh interpreter, which then lists the modules it
imported. The readers of formats the file does not carry, Pillow's other
format plugins, tomllib without a config file and networkx stay out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import repro
from repro.demo import a1111_parameters, write_a1111_png
from tests.helpers import make_output, make_project

SRC = str(Path(repro.__file__).resolve().parents[1])

SCRIPT = """
import json, sys
from repro.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""

#: Never needed to add a ComfyUI PNG whose models are on disk.
NOT_FOR_COMFYUI = ("repro.capture.a1111", "repro.capture.invokeai", "repro.capture.swarmui",
                   "repro.capture.c2pa", "repro.models.hashes", "tomllib", "networkx",
                   "PIL.PdfImagePlugin", "PIL.DdsImagePlugin", "PIL.TiffImagePlugin",
                   # Rerun receipts, and diff's prompt and graph comparisons (the index
                   # keys variations by lineage.params alone).
                   "repro.lineage.receipts", "repro.record.receipt", "repro.lineage.diff",
                   # The GPU probe looks for nvidia-smi without shutil (and its bz2, lzma),
                   # and imports subprocess only to run it.
                   "shutil", "bz2", "lzma", "subprocess", "signal", "selectors",
                   # A PNG is opened and a WebP thumbnail saved by their own plugins
                   # (Image.open of a stream and save(format=...) import five more).
                   "PIL.BmpImagePlugin", "PIL.GifImagePlugin", "PIL.JpegImagePlugin",
                   "PIL.PpmImagePlugin",
                   # The host name is read from os.uname.
                   "socket")


def _run(root: Path, *args: str | Path) -> tuple[int, set[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPRO_")}
    env.update(PYTHONPATH=SRC, HOME=str(root))  # HOME: no ~/.reprorc of the machine's
    done = subprocess.run([sys.executable, "-c", SCRIPT, *map(str, args)], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(done.stdout.splitlines()[-1])
    return result["code"], set(result["modules"])


def test_add_of_a_comfyui_png_imports_only_what_it_reads(tmp_path: Path) -> None:
    make_project(tmp_path)
    assert _run(tmp_path, "init")[0] == 0
    code, modules = _run(tmp_path, "add", make_output(tmp_path, "a.png", seed=1))
    assert code == 0
    # It did read the graph and make the thumbnail (a WebP) that the exclusions are about.
    assert {"repro.capture.comfyui", "PIL.WebPImagePlugin"} <= modules
    assert sorted(modules & set(NOT_FOR_COMFYUI)) == []


def test_a_reader_is_imported_when_the_file_carries_its_scheme(tmp_path: Path) -> None:
    make_project(tmp_path)
    text = a1111_parameters(prompt="a fox", negative="", seed=3, model="base",
                            model_hash="0123456789")
    image = write_a1111_png(tmp_path / "outputs/b.png", text, pixel_seed=3)
    assert _run(tmp_path, "init")[0] == 0
    code, modules = _run(tmp_path, "add", image)
    assert code == 0
    assert "repro.capture.a1111" in modules
    assert "repro.capture.comfyui" not in modules


def test_a_config_file_is_read_with_tomllib(tmp_path: Path) -> None:
    make_project(tmp_path)
    assert _run(tmp_path, "init")[0] == 0
    (tmp_path / ".reprorc").write_text("[lock]\ntimeout = 7.5\n", encoding="utf-8")
    code, modules = _run(tmp_path, "add", make_output(tmp_path, "c.png", seed=2))
    assert code == 0
    assert "tomllib" in modules
