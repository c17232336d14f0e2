"""Imports the modules that add commands to the ``repro`` group (one line each)."""

from __future__ import annotations

from repro.cli import capture, lineage, models  # noqa: F401
