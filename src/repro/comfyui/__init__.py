"""What repro knows about a running ComfyUI server, in one place.

- ``client``: the read-only HTTP client (``/history``, ``/system_stats``,
  ``/queue``, ``/object_info``).
- ``history``: a ``/history`` entry read into small typed values (queue
  number, status messages and timestamps, cached nodes, failure, saved
  outputs, the executed graph).
- ``system_stats``: the server's versions, devices and launch flags as
  environment fields.
- ``object_info``: which Python module (core or a custom-node package)
  provides each node class.

This package sits beside ``repro.capture`` and ``repro.environment``, below
``repro.api``: it never imports ``repro.api``. Following a server
(``repro.watch.comfyui``) is a layer above.
"""
