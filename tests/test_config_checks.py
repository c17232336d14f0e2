"""Every config key is checked: a clear error names the key and the file;
`repro config` shows each value and where it came from; `repro init` fits a
.reprorc to a ComfyUI or A1111 folder."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from repro.config import load_config
from repro.errors import UsageError
from tests.helpers import run, run_json


@pytest.mark.parametrize(("text", "message"), [
    ('[models]\nroots = "mymodels"\n', r"models\.roots must be a list of folders, e.g. \['mymodels'\]"),
    ('[lock]\ntimeout = "abc"\n', r"lock\.timeout must be a number, not 'abc'"),
    ("[gc]\ngrace_days = -1\n", r"gc\.grace_days must not be negative"),
    ('[store]\nmode = "zip"\n', r"store\.mode must be"),
    ('[capture]\nenvironment = "yes"\n', r"capture\.environment must be true or false"),
    ('[comfyui]\nurl = "localhost:8188"\n', r"comfyui\.url must be a URL"),
    ("[comfyui]\nroot = 3\n", r"comfyui\.root must be a folder"),
    ('models = "x"\n', r"models must be a table"),
])
def test_a_bad_value_names_the_key_and_the_file(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / ".reprorc").write_text(text)
    with pytest.raises(UsageError, match=message) as info:
        load_config(tmp_path, home=tmp_path / "nohome")
    assert str(tmp_path / ".reprorc") in str(info.value)
    assert ".reprorc.example" not in (info.value.hint or "")
    assert "repro config" in (info.value.hint or "")


def test_a_configured_folder_that_does_not_exist_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / ".reprorc").write_text('[models]\nroots = ["models", "mymodles"]\n'
                                       '[comfyui]\nroot = "/nonexistent/ComfyUI"\n')
    config = load_config(tmp_path, home=tmp_path / "nohome")
    assert len(config.warnings) == 2
    assert "models.roots: 'mymodles' is not a folder" in config.warnings[0]
    assert "comfyui.root" in config.warnings[1]


def test_a_command_prints_the_warning_and_the_error(project: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    (project / ".reprorc").write_text('[models]\nroots = ["mymodles"]\n')
    code, _, err = run(capsys, "-C", project, "models", "scan")
    assert code == 0
    assert "warning:" in err and "mymodles" in err
    (project / ".reprorc").write_text('[lock]\ntimeout = "abc"\n')
    code, _, err = run(capsys, "-C", project, "models", "scan")
    assert code == 2
    assert err.startswith(f"error: {project / '.reprorc'}: lock.timeout must be a number")


def test_config_shows_each_value_and_its_source(project: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    home = Path.home()
    (home / ".reprorc").write_text("[gc]\ngrace_days = 3\n[lock]\ntimeout = 5\n")
    (project / ".reprorc").write_text("[lock]\ntimeout = 9\n")
    data = run_json(capsys, "-C", project, "config")
    assert data["gc.grace_days"] == {"value": 3, "source": str(home / ".reprorc")}
    assert data["lock.timeout"] == {"value": 9, "source": str(project / ".reprorc")}
    assert data["store.mode"] == {"value": "copy", "source": "default"}
    code, out, _ = run(capsys, "-C", project, "config")
    assert code == 0
    assert "lock.timeout" in out and str(project / ".reprorc") in out
    assert str((project / "models").resolve()) in out


def test_config_works_outside_a_repository(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "-C", tmp_path, "config")
    assert code == 0 and "(not in a repository)" in out


def _comfyui(folder: Path) -> Path:
    (folder / "comfy").mkdir(parents=True)
    (folder / "main.py").write_text("# ComfyUI\n")
    (folder / "models" / "checkpoints").mkdir(parents=True)
    return folder


def test_init_in_a_comfyui_folder_writes_a_fitting_reprorc(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _comfyui(tmp_path / "ComfyUI")
    code, out, _ = run(capsys, "-C", root, "init")
    assert code == 0
    assert "found a ComfyUI install at . (main.py and comfy/)" in out
    config = load_config(root, home=tmp_path / "nohome")
    assert config.get("comfyui", "root") == "."
    assert (root / "output") in config.output_dirs
    assert config.warnings == []


def test_init_above_a_portable_comfyui_and_in_an_a1111_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    portable = tmp_path / "ComfyUI_windows_portable"
    _comfyui(portable / "ComfyUI")
    data = run_json(capsys, "init", portable)
    assert data["found"] == [{"tool": "comfyui", "root": "ComfyUI", "why": "main.py and comfy/"}]
    assert load_config(portable, home=tmp_path / "nohome").get("comfyui", "root") == "ComfyUI"

    webui = tmp_path / "stable-diffusion-webui"
    webui.mkdir()
    (webui / "webui.py").write_text("")
    data = run_json(capsys, "init", webui)
    assert [f["tool"] for f in data["found"]] == ["a1111"]
    config = load_config(webui, home=tmp_path / "nohome")
    assert config.get("a1111", "root") == "."
    assert (webui / "outputs").resolve() in config.output_dirs


def test_init_keeps_an_existing_reprorc_and_a_plain_folder_gets_none(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _comfyui(tmp_path / "ComfyUI")
    (root / ".reprorc").write_text("[gc]\ngrace_days = 1\n")
    code, out, _ = run(capsys, "init", root)
    assert code == 0 and "kept the existing" in out
    assert (root / ".reprorc").read_text() == "[gc]\ngrace_days = 1\n"
    plain = tmp_path / "plain"
    code, out, _ = run(capsys, "init", plain, "--json")
    assert orjson.loads(out)["reprorc"] is None
    assert not (plain / ".reprorc").exists()


def test_config_example_is_shipped_and_is_the_documented_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.paths import ROOT

    code, out, _ = run(capsys, "-C", tmp_path, "config", "--example")
    assert code == 0
    assert out == (ROOT / ".reprorc.example").read_text()
    assert out == (ROOT / "src" / "repro" / "reprorc.example").read_text()
    (tmp_path / ".reprorc").write_text(out)
    config = load_config(tmp_path, home=tmp_path / "nohome")
    assert config.get("store", "mode") == "copy" and config.warnings == []
