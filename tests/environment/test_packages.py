from __future__ import annotations

import json
from pathlib import Path

from repro.environment.packages import (
    find_site_packages,
    local_version_tag,
    normalize_name,
    parse_pip_list_json,
    parse_torch_version_py,
    python_of_env,
    read_site_packages,
    scan_sites,
    torch_info,
)


def add_dist(site: Path, name: str, version: str, *, folder: str | None = None) -> None:
    """A wheel-style ``*.dist-info`` with a METADATA header and a long body."""
    dist = site / (folder or f"{name.replace('-', '_')}-{version}.dist-info")
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: x\n\n"
        "Name: not-a-header\nVersion: 0.0.0\n" + "long description\n" * 100)


def fake_venv(root: Path, torch_version: str = "2.14.1+cu130", cuda: str | None = "13.0") -> Path:
    site = root / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (root / "pyvenv.cfg").write_text("home = /usr/bin\ninclude-system-site-packages = false\n"
                                     "version = 3.11.7\n")
    # PyPI's CUDA wheels record "2.14.1" in METADATA; version.py has the local tag.
    add_dist(site, "torch", torch_version.split("+")[0])
    (site / "torch").mkdir()
    cuda_line = f"cuda: Optional[str] = '{cuda}'" if cuda else "cuda: Optional[str] = None"
    (site / "torch" / "version.py").write_text(
        "from typing import Optional\n\n__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip']\n"
        f"__version__ = '{torch_version}'\ndebug = False\n{cuda_line}\n"
        "git_version = '0123456789abcdef0123456789abcdef01234567'\nhip: Optional[str] = None\n")
    add_dist(site, "nvidia-cudnn-cu13", "9.19.0.56")
    add_dist(site, "triton", "3.6.0")
    add_dist(site, "xformers", "0.0.33.post1")
    add_dist(site, "torchvision", "0.29.1+cu130")
    return site


def test_read_site_packages(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    add_dist(site, "Pillow", "13.0.0")
    add_dist(site, "typing_extensions", "4.15.0")
    add_dist(site, "zope.interface", "7.0")
    # A METADATA-less dist-info still names itself in its folder name.
    (site / "weird_pkg-1.2.3.dist-info").mkdir()
    # Old setuptools installs: an .egg-info folder, and a single-file .egg-info.
    egg = site / "legacy.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: Legacy_Thing\nVersion: 0.9\n")
    (site / "single-2.0-py3.11.egg-info").write_text("Metadata-Version: 1.0\nName: single\nVersion: 2.0\n")
    (site / "not_a_dist").mkdir()
    assert read_site_packages(site) == {
        "legacy-thing": "0.9", "pillow": "13.0.0", "single": "2.0",
        "typing-extensions": "4.15.0", "weird-pkg": "1.2.3", "zope-interface": "7.0",
    }
    assert read_site_packages(tmp_path / "missing") == {}


def test_only_wanted_distributions_are_read(tmp_path: Path) -> None:
    """An entry whose folder names an unwanted distribution is not opened; one whose
    folder names none is read, and kept only when its METADATA names a wanted one."""
    site = tmp_path / "site-packages"
    add_dist(site, "Pillow", "13.0.0")
    add_dist(site, "typing_extensions", "4.15.0")
    # Its METADATA says pillow, its folder another name: left unread, so not found.
    add_dist(site, "pillow", "0.0.1", folder="other_thing-1.0.dist-info")
    for name, version in (("torch", "2.14.1"), ("Legacy_Thing", "0.9")):
        egg = site / f"{name.lower()}.egg-info"  # no version in the name: read
        egg.mkdir()
        (egg / "PKG-INFO").write_text(f"Metadata-Version: 1.1\nName: {name}\nVersion: {version}\n")
    wanted = {"pillow", "torch"}.__contains__
    assert read_site_packages(site, wanted) == {"pillow": "13.0.0", "torch": "2.14.1"}
    assert read_site_packages(site)["typing-extensions"] == "4.15.0"


def test_pip_list_fixture_names_match_dist_info_reading(gpu_fixtures: Path, tmp_path: Path) -> None:
    listed = parse_pip_list_json((gpu_fixtures / "pip-list.json").read_text())
    raw = json.loads((gpu_fixtures / "pip-list.json").read_text())
    assert len(listed) == len(raw) == 197
    assert listed["torch"] == "2.11.0"
    assert listed["nvidia-cudnn-cu13"] == "9.19.0.56"
    assert listed["jinja2"] == "3.1.6"  # "Jinja2" normalised
    # The same distributions written as dist-info folders read back identically.
    site = tmp_path / "site"
    for item in raw:
        add_dist(site, item["name"], item["version"])
    assert read_site_packages(site) == listed


def test_normalize_name() -> None:
    assert normalize_name("Foo.Bar__baz-Qux") == "foo-bar-baz-qux"


def test_torch_version_py_parsing() -> None:
    info = parse_torch_version_py(
        "__version__ = '2.13.0+cpu'\ndebug = False\ncuda: Optional[str] = None\n"
        'git_version = "abc"\n')
    assert info == {"version": "2.13.0+cpu", "cuda": None, "git_version": "abc"}
    assert local_version_tag("2.14.1+cu130") == "cu130"
    assert local_version_tag("2.11.0") is None


def test_torch_info(tmp_path: Path) -> None:
    site = fake_venv(tmp_path / "venv")
    info = torch_info(site)
    assert info["version"] == "2.14.1+cu130"
    assert info["local"] == "cu130"
    assert info["cuda"] == "13.0"
    assert info["cudnn"] == "9.19.0.56"
    assert info["triton"] == "3.6.0"
    assert info["xformers"] == "0.0.33.post1"
    assert info["torchvision"] == "0.29.1+cu130"
    assert info["hip"] is None


def test_scan_sites_reads_the_torch_stack_whatever_is_wanted(tmp_path: Path) -> None:
    site = fake_venv(tmp_path / "venv")
    add_dist(site, "numpy", "2.3.0")
    packages, torch = scan_sites([site], wanted={"numpy"}.__contains__)
    assert torch == torch_info(site)
    assert packages["numpy"] == "2.3.0" and packages["nvidia-cudnn-cu13"] == "9.19.0.56"


def test_torch_info_cpu_build_and_without_version_py(tmp_path: Path) -> None:
    site = fake_venv(tmp_path / "cpu", "2.13.0+cpu", cuda=None)
    info = torch_info(site)
    assert info["cuda"] is None and info["local"] == "cpu"
    (site / "torch" / "version.py").unlink()
    info = torch_info(site)
    assert info["version"] == "2.13.0" and "cuda" not in info
    assert torch_info(tmp_path / "nothing") == {}


def test_torch_version_py_is_never_executed(tmp_path: Path) -> None:
    site = fake_venv(tmp_path / "venv")
    marker = tmp_path / "executed"
    (site / "torch" / "version.py").write_text(
        f"open({str(marker)!r}, 'w').write('x')\n__version__ = '9.9.9'\ncuda = '12.8'\n")
    info = torch_info(site)
    assert info["version"] == "9.9.9" and info["cuda"] == "12.8"
    assert not marker.exists()


def test_find_site_packages_posix_windows_and_embedded(tmp_path: Path) -> None:
    site = fake_venv(tmp_path / "venv")
    assert find_site_packages(tmp_path / "venv") == [site]
    win = tmp_path / "winvenv" / "Lib" / "site-packages"
    win.mkdir(parents=True)
    assert find_site_packages(tmp_path / "winvenv") == [win]
    embedded = tmp_path / "python_embeded"
    (embedded / "Lib" / "site-packages").mkdir(parents=True)
    (embedded / "python311._pth").write_text("python311.zip\n.\n")
    assert find_site_packages(embedded) == [embedded / "Lib" / "site-packages"]
    assert python_of_env(embedded) == {"version": "3.11"}
    assert python_of_env(tmp_path / "venv") == {"version": "3.11.7"}
    assert find_site_packages(tmp_path / "missing") == []
