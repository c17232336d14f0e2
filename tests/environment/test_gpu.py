from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from repro.environment.gpu import (
    QUERY_FIELDS,
    on_path,
    parse_nvidia_smi_csv,
    parse_nvidia_smi_text,
    parse_nvidia_smi_xml,
    parse_proc_driver_version,
    parse_torch_collect_env,
    probe_gpu,
)
from repro.errors import InputError, LimitExceeded

H100 = "NVIDIA H100 80GB HBM3"
UUID = "GPU-f25e6ffe-5c32-076e-0aff-8dda87b80305"


def test_csv_fixture(gpu_fixtures: Path) -> None:
    gpus = parse_nvidia_smi_csv((gpu_fixtures / "nvidia-smi-query.csv").read_text())
    assert gpus == [{
        "index": 0, "name": H100, "uuid": UUID, "driver": "580.159.04",
        "memory_total_mib": 81559, "compute_capability": "9.0",
        "pci_bus_id": "00000000:00:06.0", "vbios": "96.00.DA.00.0C",
    }]


def test_csv_noheader_nounits_and_missing_values() -> None:
    text = "0, NVIDIA GeForce RTX 4090, 24564, 8.9\n1, Tesla T4, [N/A], 7.5\n"
    gpus = parse_nvidia_smi_csv(text, fields=["index", "name", "memory.total", "compute_cap"])
    assert gpus[0] == {"index": 0, "name": "NVIDIA GeForce RTX 4090",
                       "memory_total_mib": 24564, "compute_capability": "8.9"}
    assert "memory_total_mib" not in gpus[1] and gpus[1]["name"] == "Tesla T4"


def test_csv_with_fields_skips_a_header_line() -> None:
    text = "name, memory.total [MiB]\nTesla T4, 15360 MiB\n"
    assert parse_nvidia_smi_csv(text, fields=["name", "memory.total"]) == [
        {"name": "Tesla T4", "memory_total_mib": 15360}]


def test_csv_column_mismatch_is_an_input_error() -> None:
    with pytest.raises(InputError):
        parse_nvidia_smi_csv("name, uuid\nonly-one-column\n")


def test_xml_fixture(gpu_fixtures: Path) -> None:
    info = parse_nvidia_smi_xml((gpu_fixtures / "nvidia-smi-q.xml").read_text())
    assert info["driver"] == "580.159.04"
    assert info["cuda"] == "13.0"
    [gpu] = info["gpus"]
    assert gpu["name"] == H100
    assert gpu["uuid"] == UUID
    assert gpu["architecture"] == "Hopper"
    assert gpu["memory_total_mib"] == 81559
    # The v13 DTD of this nvidia-smi carries no compute capability: absent, not guessed.
    assert "compute_capability" not in gpu


def test_xml_rejects_entities_garbage_and_oversize() -> None:
    bomb = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaa">]>'
            "<nvidia_smi_log>&a;</nvidia_smi_log>")
    with pytest.raises(InputError):
        parse_nvidia_smi_xml(bomb)
    with pytest.raises(InputError):
        parse_nvidia_smi_xml("<nvidia_smi_log><gpu>")
    with pytest.raises(InputError):
        parse_nvidia_smi_xml("<html></html>")
    with pytest.raises(LimitExceeded):
        parse_nvidia_smi_xml("<nvidia_smi_log>" + " " * (5 * 1024 * 1024) + "</nvidia_smi_log>")


def test_plain_nvidia_smi_header(gpu_fixtures: Path) -> None:
    info = parse_nvidia_smi_text((gpu_fixtures / "nvidia-smi.txt").read_text())
    assert info == {"smi_version": "580.159.04", "driver": "580.159.04", "cuda": "13.0"}


def test_proc_driver_version(gpu_fixtures: Path) -> None:
    info = parse_proc_driver_version((gpu_fixtures / "proc-driver-nvidia-version.txt").read_text())
    assert info["driver"] == "580.159.04"
    assert info["open_kernel_module"] is True
    assert info["kernel_module"] == "NVIDIA UNIX Open Kernel Module for x86_64"
    assert info["gcc"] == "15.3.0"


def test_proc_driver_version_older_proprietary_format() -> None:
    text = ("NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  "
            "Sat Aug 19 01:15:15 UTC 2023\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n")
    info = parse_proc_driver_version(text)
    assert info["driver"] == "535.104.05" and info["open_kernel_module"] is False
    assert parse_proc_driver_version("nothing here") == {}


def test_torch_collect_env(gpu_fixtures: Path) -> None:
    info = parse_torch_collect_env((gpu_fixtures / "torch-collect-env.txt").read_text())
    assert info["torch"] == "2.11.0+cu130"
    assert info["cuda"] == "13.0"
    assert info["cuda_runtime"] == "13.0.88"
    assert info["cuda_available"] is True and info["debug_build"] is False
    assert info["python"] == "3.12.3"
    assert info["os"] == "Ubuntu 24.04.3 LTS (x86_64)"
    assert info["gpus"] == [H100]
    assert info["driver"] == "580.159.04"
    assert info["cpu"] == "Intel(R) Xeon(R) Processor"
    assert "rocm" not in info  # "N/A"
    # collect_env lists the system libcudnn (9.14.0); torch loads the wheel's (9.19).
    assert info["cudnn_candidates"] == ["9.14.0"]
    assert "cudnn" not in info
    assert info["packages"]["nvidia-cudnn-cu13"] == "9.19.0.56"
    assert info["packages"]["triton"] == "3.6.0"
    assert info["packages"]["torch"] == "2.11.0"


def test_torch_collect_env_single_cudnn_and_multi_gpu() -> None:
    text = ("PyTorch version: 2.1.0+cu121\nCUDA used to build PyTorch: 12.1\n"
            "GPU models and configuration: \nGPU 0: NVIDIA A100-SXM4-80GB\n"
            "cuDNN version: 8.9.2\nIs CUDA available: False\nCUDA runtime version: Could not collect\n")
    info = parse_torch_collect_env(text)
    assert info["cudnn"] == "8.9.2" and "cuda_runtime" not in info
    assert info["cuda_available"] is False


class FakeRun:
    """Stands in for subprocess.run: answers by the command's first arguments."""

    def __init__(self, outputs: dict[str, Any]) -> None:
        self.outputs = outputs
        self.calls: list[list[str]] = []

    def __call__(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        self.calls.append(argv)
        assert kwargs["timeout"] > 0  # every probe is bounded in time
        key = "query" if any(a.startswith("--query-gpu=") for a in argv) else "plain"
        result = self.outputs[key]
        if isinstance(result, BaseException):
            raise result
        return subprocess.CompletedProcess(argv, 0, stdout=result, stderr="")


def test_probe_gpu_with_fixture_output(gpu_fixtures: Path, tmp_path: Path) -> None:
    run = FakeRun({"query": (gpu_fixtures / "nvidia-smi-query.csv").read_text(),
                   "plain": (gpu_fixtures / "nvidia-smi.txt").read_text()})
    proc = tmp_path / "version"
    proc.write_text((gpu_fixtures / "proc-driver-nvidia-version.txt").read_text())
    info = probe_gpu(run, proc_path=proc)
    assert info["driver"] == "580.159.04"
    assert info["cuda"] == "13.0"
    assert [g["name"] for g in info["gpus"]] == [H100]
    assert info["gpus"][0]["compute_capability"] == "9.0"
    assert run.calls[0][0] == "nvidia-smi"
    assert run.calls[0][1] == "--query-gpu=" + ",".join(QUERY_FIELDS)


@pytest.mark.parametrize("error", [
    FileNotFoundError(2, "No such file or directory: 'nvidia-smi'"),
    subprocess.TimeoutExpired(["nvidia-smi"], 5.0),
    PermissionError(13, "denied"),
])
def test_probe_gpu_without_tool_returns_empty(error: BaseException, tmp_path: Path) -> None:
    run = FakeRun({"query": error, "plain": error})
    assert probe_gpu(run, proc_path=tmp_path / "absent") == {}


def test_probe_gpu_keeps_proc_driver_when_tool_fails(gpu_fixtures: Path, tmp_path: Path) -> None:
    proc = tmp_path / "version"
    proc.write_text((gpu_fixtures / "proc-driver-nvidia-version.txt").read_text())
    run = FakeRun({"query": subprocess.TimeoutExpired(["nvidia-smi"], 5.0), "plain": ""})
    info = probe_gpu(run, proc_path=proc)
    assert info["driver"] == "580.159.04" and info["gpus"] == []


def test_probe_gpu_nonzero_exit_is_no_gpu(tmp_path: Path) -> None:
    def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(argv, 9, stdout="NVIDIA-SMI has failed", stderr="")

    assert probe_gpu(run, proc_path=tmp_path / "absent") == {}


def test_probe_gpu_on_this_machine_does_not_raise() -> None:
    info = probe_gpu(timeout=5.0)
    assert isinstance(info, dict)
    if info:
        assert isinstance(info["gpus"], list)


@pytest.mark.skipif(os.name == "nt", reason="Windows asks shutil.which (PATHEXT)")
def test_on_path_finds_executables_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tool = tmp_path / "bin" / "nvidia-smi"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\n")
    (tmp_path / "other" / "nvidia-smi").mkdir(parents=True)  # a folder of that name
    monkeypatch.setenv("PATH", os.pathsep.join([str(tmp_path / "other"), str(tool.parent)]))
    assert not on_path("nvidia-smi")  # not executable yet
    tool.chmod(0o755)
    assert on_path("nvidia-smi")
    assert not on_path("no-such-tool")
