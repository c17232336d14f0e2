"""Capture at creation time: a layer above ``repro.api`` that calls ``api.add``.

- ``folder``: ``FolderWatcher`` captures images under a folder once whole.
- ``comfyui``: ``ComfyFollower`` follows a running ComfyUI server's
  ``/history`` and captures each finished job's outputs with what the server
  said (``repro.comfyui`` reads the answers).
- ``policy``: ``watch()``, what ``repro watch`` decides from its options and
  the config (which environment to record, where the server's outputs are).
"""
