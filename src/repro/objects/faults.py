"""Named crash points for the reliability tests; inert unless armed.

Writers call ``checkpoint(name)`` between the steps of a write (temp file
written, synced, renamed; record stored; index committed...). Normally that
is one global test and nothing else. The crash tests arm it through
``repro.cli.main`` (which reads ``REPRO_TEST_CRASH_AT`` and
``REPRO_TEST_CHECKPOINT_DELAY``; the library itself reads no environment) so
that the process kills itself with SIGKILL at the N-th checkpoint, exactly as
a power cut or ``kill -9`` would stop it there, or sleeps at every checkpoint
to widen the windows that randomly timed kills can hit.

Spec syntax for ``arm``: ``NAME`` (first time ``NAME`` is reached),
``NAME:N`` (its N-th time), ``*:N`` (the N-th checkpoint of any name).
"""

from __future__ import annotations

import os
import time

_target: str | None = None
_nth = 1
_delay = 0.0
_seen = 0
_armed = False


def arm(spec: str | None, *, delay: float = 0.0) -> None:
    """Kill this process at the checkpoint ``spec`` names; sleep ``delay`` s at each one."""
    global _target, _nth, _delay, _seen, _armed
    _target, _nth, _seen = None, 1, 0
    if spec:
        name, _, count = spec.partition(":")
        try:
            _nth = max(1, int(count)) if count else 1
        except ValueError:
            _nth = 1
        _target = name
    _delay = max(0.0, delay)
    _armed = _target is not None or _delay > 0


def checkpoint(name: str) -> None:
    """A point between two write steps where a crash must leave a consistent store."""
    global _seen
    if not _armed:
        return
    if _delay:
        time.sleep(_delay)
    if _target is not None and (_target == "*" or _target == name):
        _seen += 1
        if _seen == _nth:
            import signal  # only here: every write imports this module

            os.kill(os.getpid(), signal.SIGKILL)
