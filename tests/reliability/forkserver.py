"""A fork server for the crash harness: ``repro`` processes without start-up cost.

Python start-up and imports are most of a short ``repro`` run. This server
imports the CLI once and forks a child per request; each child is a real
process (its own memory, killed by a real SIGKILL) that runs
``repro.cli.main(args)`` in the requested folder with the requested
environment, exactly what the ``repro`` console script does after start-up.

Protocol, one JSON object a line on stdin/stdout:
``{"run": [args], "cwd": DIR, "env": {...}, "stderr": FILE}`` -> ``{"pid": N}``;
``{"wait": N, "timeout": S}`` -> ``{"status": CODE}`` (-9 when killed, null on timeout).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time

from repro.cli import main

# Imported before forking, so that no child pays for them.
PRELOAD = ("repro.api.add", "repro.api.checkout", "repro.api.maintenance", "repro.capture",
           "repro.api.repository", "PIL.PngImagePlugin")


def _child(request: dict[str, object]) -> None:
    try:
        os.chdir(str(request["cwd"]))
        env = request.get("env") or {}
        assert isinstance(env, dict)
        for key in [k for k in os.environ if k.startswith("REPRO_")]:
            del os.environ[key]
        os.environ.update({str(k): str(v) for k, v in env.items()})
        null = os.open(os.devnull, os.O_WRONLY)
        err = os.open(str(request["stderr"]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(null, 1)
        os.dup2(err, 2)
        args = request["run"]
        assert isinstance(args, list)
        code = main([str(a) for a in args])
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # a child must never return into the server loop
        code = 99
    os._exit(code)


def _wait(pid: int, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            return None
        time.sleep(0.002)


def serve() -> None:
    for name in PRELOAD:
        importlib.import_module(name)
    for line in sys.stdin:
        request = json.loads(line)
        if "run" in request:
            pid = os.fork()
            if pid == 0:
                _child(request)
            reply: dict[str, object] = {"pid": pid}
        else:
            reply = {"status": _wait(int(request["wait"]), float(request.get("timeout", 60)))}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()
