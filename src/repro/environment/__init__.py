"""The execution environment: what decides an image besides parameters and models.

``current_environment()`` assembles the record's ``environment`` field from
the pieces in this package: ``machine`` (OS, Python, CPU), ``gpu`` (driver,
CUDA, GPUs from NVIDIA's tools), ``packages`` (versions read from a venv's
files), ``gitstate`` (tool and custom node commits via dulwich),
``installs`` (ComfyUI / A1111 / InvokeAI folders), ``comfyui_server``
(``/system_stats``) and ``compare`` (which differences change outputs).

``current_environment`` lives in ``repro.environment.current``; importing
the package itself loads none of the probes (nor dulwich), so that
``compare`` or ``extra_paths`` cost only themselves.
"""
