"""Parsers of tool output never crash on arbitrary text: a result or an InputError."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from repro.environment.extra_paths import parse_extra_model_paths
from repro.environment.gpu import (
    parse_nvidia_smi_csv,
    parse_nvidia_smi_text,
    parse_nvidia_smi_xml,
    parse_proc_driver_version,
    parse_torch_collect_env,
)
from repro.environment.machine import parse_cpuinfo, parse_os_release
from repro.environment.packages import parse_metadata_headers, parse_torch_version_py
from repro.errors import InputError

lines = st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
                 | st.sampled_from(["a1111:", "  base_path: x", "  loras: |", "      p/q",
                                    "cuDNN version: Probably one of the following:",
                                    "/usr/lib/libcudnn.so.9.1.0", "name, memory.total [MiB]",
                                    "NVRM version: x 1.2.3 y", "[pip3] torch==2.1"]),
                 max_size=12).map("\n".join)


@settings(max_examples=150, deadline=None)
@given(lines)
def test_text_parsers_never_crash(text: str) -> None:
    parse_extra_model_paths(text)
    parse_torch_collect_env(text)
    parse_proc_driver_version(text)
    parse_nvidia_smi_text(text)
    parse_os_release(text)
    parse_cpuinfo(text)
    parse_metadata_headers(text)
    parse_torch_version_py(text)
    with contextlib.suppress(InputError):
        parse_nvidia_smi_csv(text)
    with contextlib.suppress(InputError):
        parse_nvidia_smi_xml(text)
