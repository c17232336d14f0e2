"""Small objects gathered into packs, each pack sent while the next is being filled.

A push reads and checks its small objects one by one (CPU and local disk) and
sends them as packs of about ``PACK_TARGET`` (network, and the remote's own
work): done one after the other, each waits for the other. Here a full pack goes
to a few sender threads, and the push goes on filling the next one; at most
``SENDERS`` full packs wait or travel at once, so memory stays bounded.

A pack is named by its bytes: a push stopped after sending one makes the same pack
again, finds it on the remote and does not send it again.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

from repro.objects.faults import checkpoint
from repro.objects.hashing import hash_bytes
from repro.remote import index as rindex
from repro.remote.base import Remote
from repro.remote.segment import Location

#: A pack is closed at about this size (smaller packs travel side by side sooner, and
#: a pull holds one at a time in memory; there are few: 30 for 1 GB).
PACK_TARGET = 32 * 1024 * 1024
#: Packs sent at once (each up to ``PACK_TARGET`` in memory while it travels).
SENDERS = 3


class PackSender:
    """Sends full packs in the background; ``finish`` waits for them (and raises the
    first failure). Used as a context manager: on the way out the threads end, the
    packs not started yet dropped. ``bytes``, ``packs`` and ``reused`` say what it did."""

    def __init__(self, remote: Remote, *, senders: int = SENDERS):
        self.remote = remote
        self.pool = ThreadPoolExecutor(senders, thread_name_prefix="repro-pack")
        self.slots = threading.BoundedSemaphore(senders)
        self.sending: list[Future[int | None]] = []
        self.bytes = self.packs = self.reused = 0

    def send(self, name: str, data: bytes) -> None:
        """Queue the pack ``name``; waits while ``SENDERS`` packs are in flight, and
        raises there when one of them failed (no point filling more)."""
        self._harvest(wait=False)
        self.slots.acquire()
        try:
            future = self.pool.submit(self._put, name, data)
        except BaseException:
            self.slots.release()
            raise
        future.add_done_callback(lambda _: self.slots.release())
        self.sending.append(future)
        self.packs += 1

    def _put(self, name: str, data: bytes) -> int | None:
        """Bytes sent; None when the pack is on the remote already."""
        key = rindex.pack_key(name)
        if self.remote.exists(key) or not self.remote.put_if_absent(key, data):
            return None
        checkpoint("push.sent")
        return len(data)

    def _harvest(self, *, wait: bool) -> None:
        """Count the packs that arrived (all of them with ``wait``); raise the first
        failure, and then hold no future and no failure: its traceback holds the
        callers' frames (the repository among them), which a cycle back to it
        would keep alive, its index files open, until a garbage collection."""
        still, failed = self._arrived(wait)
        self.sending = [] if failed else still
        if failed is not None:
            try:
                raise failed
            finally:
                failed = None

    def _arrived(self, wait: bool) -> tuple[list[Future[int | None]], BaseException | None]:
        """The packs still on their way, and the first failure; those that arrived
        counted."""
        still, failed = [], None
        for future in self.sending:
            if not wait and not future.done():
                still.append(future)
            elif (error := future.exception()) is not None:
                failed = failed or error
            elif (sent := future.result()) is None:
                self.reused += 1
            else:
                self.bytes += sent
        return still, failed

    def finish(self) -> None:
        """Wait for every pack; the first failure is raised."""
        self._harvest(wait=True)

    def __enter__(self) -> PackSender:
        return self

    def __exit__(self, *exc: object) -> None:
        # packs not started yet are dropped: a push run again makes and sends them
        self.pool.shutdown(wait=True, cancel_futures=True)


class Packer:
    """Small objects gathered into one pack of about ``PACK_TARGET`` at a time; each
    object's place is written to ``entries`` (for the segment) as it is packed."""

    def __init__(self, sender: PackSender, entries: dict[str, Location]):
        self.sender, self.entries = sender, entries
        self.items: list[tuple[str, bytes]] = []
        self.size = 0

    def add(self, oid: str, data: bytes) -> None:
        self.items.append((oid, data))
        self.size += len(data)
        if self.size >= PACK_TARGET:
            self.flush()

    def flush(self) -> None:
        if not self.items:
            return
        data = b"".join(b for _, b in self.items)
        name = hash_bytes(data)
        offset = 0
        for oid, b in self.items:
            self.entries[oid] = (name, offset, len(b))
            offset += len(b)
        self.items, self.size = [], 0
        self.sender.send(name, data)
