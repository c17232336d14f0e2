from __future__ import annotations

import platform

import orjson

from repro.environment.machine import machine_info, parse_cpuinfo, parse_os_release


def test_machine_info_on_this_machine() -> None:
    info = machine_info()
    assert info["python"]["version"] == platform.python_version()
    assert info["python"]["implementation"] == platform.python_implementation()
    assert isinstance(info["python"]["executable"], str)
    assert info["os"]["system"] == platform.system()
    assert isinstance(info["cpu"].get("count"), int) and info["cpu"]["count"] >= 1
    assert isinstance(info.get("host"), str)
    orjson.dumps(info)  # JSON-able as it is


def test_os_release_quotes_and_comments() -> None:
    text = ('# comment\nNAME="Ubuntu"\nVERSION_ID=\'24.04\'\nID=ubuntu\n'
            'PRETTY_NAME="Ubuntu 24.04.3 LTS"\nbroken line\n')
    assert parse_os_release(text) == {"NAME": "Ubuntu", "VERSION_ID": "24.04", "ID": "ubuntu",
                                      "PRETTY_NAME": "Ubuntu 24.04.3 LTS"}


def test_cpuinfo_x86_and_arm() -> None:
    x86 = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel\t\t: 207\nmodel name\t: Intel(R) Xeon(R) Processor\n"
    assert parse_cpuinfo(x86) == {"model": "Intel(R) Xeon(R) Processor"}
    arm = "processor\t: 0\nBogoMIPS\t: 48.00\n\nHardware\t: BCM2835\nModel\t\t: Raspberry Pi 4 Model B\n"
    assert parse_cpuinfo(arm) == {"model": "Raspberry Pi 4 Model B"}
    assert parse_cpuinfo("processor\t: 0\n") == {}
