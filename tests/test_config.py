"""Config overrides: what a command's options say wins over the config files."""

from __future__ import annotations

from pathlib import Path

import pytest

from repro.api.repository import Repository
from repro.config import load_config
from repro.errors import UsageError


def test_overrides_win_over_the_config_files(tmp_path: Path) -> None:
    (tmp_path / ".reprorc").write_text("[lock]\ntimeout = 30.0\n[gc]\ngrace_days = 3\n")
    config = load_config(tmp_path, home=tmp_path / "nohome",
                         overrides={"lock": {"timeout": 0.5}})
    assert config.get("lock", "timeout") == 0.5
    assert config.get("gc", "grace_days") == 3


def test_an_unknown_override_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"lock\.timout"):
        load_config(tmp_path, home=tmp_path / "nohome", overrides={"lock": {"timout": 1}})


def test_a_discovered_repository_reads_its_overrides(tmp_path: Path) -> None:
    Repository.init(tmp_path)
    (tmp_path / "sub").mkdir()
    repo = Repository.discover(tmp_path / "sub", overrides={"lock": {"timeout": 2.5}})
    assert repo.config.get("lock", "timeout") == 2.5
    assert Repository.discover(tmp_path).config.get("lock", "timeout") == 60.0
