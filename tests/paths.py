"""Where the tests' vendored data lives (tests/fixtures; see its README)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
CORPUS = FIXTURES / "corpus"
EXPECTED = CORPUS / "EXPECTED.json"
COMFYUI = FIXTURES / "comfyui-0.3.64"
GPU_ENV = FIXTURES / "gpu-env-h100"
