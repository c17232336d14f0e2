"""Imports the modules that add commands to the ``repro`` group (one line each)."""

from __future__ import annotations

from repro.cli import models  # noqa: F401
from repro.cli import capture  # noqa: F401
from repro.cli import lineage  # noqa: F401
