"""Writing a batch's small temp files from a background thread.

Creating a file costs little CPU but can wait long: on a shared disk each
create waits its turn in the filesystem's journal (0.2 ms idle, 0.5-1.8 ms
under load on this project's machine), and an ``add`` of new images makes
four a picture (output, two metadata blobs, record). Threads that only
write let the capturing thread go on parsing and hashing the next image,
and the waits overlap (a synthetic mix of 1 ms of CPU and four creates an
item took 1.4 ms instead of 3.6 ms at a load of 15); creates that wait at
the same time share one journal commit.

Nothing about durability changes: these are the batch's temp files, synced
and renamed by ``ObjectStore`` only after ``wait`` says every one was
written; a file whose write failed is removed, and the error is raised in
the capturing thread.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading

from repro.objects.atomic import TMP_PREFIX

#: Bytes up to this size go to the background thread; larger ones are written at once.
MAX_BYTES = 1024 * 1024
#: Writes queued at most (so at most this many times MAX_BYTES held in memory).
QUEUE = 1024
#: Threads writing: creates that wait for the journal at the same time share its commit.
WRITERS = 4
#: Mode of an object file (``ObjectStore``'s ``READ_ONLY``).
READ_ONLY = 0o444


class BackgroundWriter:
    """``WRITERS`` threads writing new files, each under a name chosen when it is queued."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[str, bytes] | None] = queue.Queue(QUEUE)
        self._errors: list[BaseException] = []
        self._closed = False
        self._threads = [threading.Thread(target=self._run, name="repro-writer", daemon=True)
                         for _ in range(WRITERS)]
        for thread in self._threads:
            thread.start()

    def write(self, folder: str | os.PathLike[str], data: bytes) -> str:
        """Queue ``data`` for a new read-only file in ``folder``; its path. Raises the
        error of an earlier write that failed."""
        self._raise()
        name = os.path.join(folder, TMP_PREFIX + os.urandom(8).hex())
        self._queue.put((name, data))
        return name

    def wait(self) -> None:
        """Return once every queued file is written; raise the first write error."""
        self._queue.join()
        self._raise()

    def close(self) -> None:
        """Write what is queued, then stop the thread (errors are left to ``wait``)."""
        if not self._closed:
            self._closed = True
            for _ in self._threads:
                self._queue.put(None)
            for thread in self._threads:
                thread.join()

    def _raise(self) -> None:
        if self._errors:
            raise self._errors[0]

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                write_new_file(*item)
            except BaseException as exc:  # raised in the capturing thread by ``_raise``
                self._errors.append(exc)
            finally:
                self._queue.task_done()


def write_new_file(name: str, data: bytes) -> None:
    """Create ``name`` (which must not exist) holding ``data``, read-only; on any
    error nothing is left under ``name``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) \
        | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(name, flags, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if hasattr(os, "fchmod"):
            os.fchmod(fd, READ_ONLY)
        else:  # Windows
            os.chmod(name, READ_ONLY)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise
    os.close(fd)
