"""Rerun receipts: stored as objects, linked to the record they tried by a ref.

A receipt's bytes are an object like any other (``repro.record.receipt``).
The link is ``refs/receipts/<record id>/<receipt id>``, an empty file written
atomically after the receipt object (and its difference image) is durable, so
a crash leaves at most an unreferenced object. The refs are not derived:
like tags, they are what keeps receipts (and their difference images) from
``gc``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from repro.errors import NotFound
from repro.objects.atomic import write_bytes
from repro.objects.ids import check_id, is_id
from repro.objects.store import ObjectStore
from repro.record.receipt import Receipt

RECEIPTS_DIR = "receipts"


class Receipts:
    """The receipts of a store: ``refs_dir/receipts/<record>/<receipt>``."""

    def __init__(self, refs_dir: Path, tmp_dir: Path, store: ObjectStore) -> None:
        self.dir = refs_dir / RECEIPTS_DIR
        self.tmp_dir = tmp_dir
        self.store = store

    def add(self, receipt: Receipt) -> Receipt:
        """Store ``receipt`` and link it to its target; the receipt with its id."""
        from dataclasses import replace

        oid = self.store.put_bytes(receipt.to_bytes())
        folder = self.dir / check_id(receipt.target)
        folder.mkdir(parents=True, exist_ok=True)
        write_bytes(folder / oid, b"", tmp_dir=self.tmp_dir)
        return replace(receipt, id=oid)

    def ids(self, record_id: str) -> list[str]:
        folder = self.dir / record_id
        if not folder.is_dir():
            return []
        out: list[str] = []
        for p in sorted(folder.iterdir()):
            with contextlib.suppress(ValueError):
                out.append(check_id(p.name))
        return out

    def of(self, record_id: str) -> list[Receipt]:
        """The receipts of one record, oldest first (unreadable ones are left out:
        ``fsck`` reports damaged objects)."""
        found = []
        for oid in self.ids(record_id):
            with contextlib.suppress(NotFound, ValueError):
                found.append(Receipt.from_bytes(self.store.read_bytes(oid), id=oid))
        found.sort(key=lambda r: (r.at, r.id))
        return found

    def targets(self) -> list[str]:
        """The records that have receipts (``repro status`` verifies them)."""
        if not self.dir.is_dir():
            return []
        return [p.name for p in self.dir.iterdir() if p.is_dir() and is_id(p.name)]

    def kept(self) -> Iterator[str]:
        """Every receipt id, and every object a receipt names (``gc`` keeps them)."""
        if not self.dir.is_dir():
            return
        for folder in sorted(self.dir.iterdir()):
            if not folder.is_dir():
                continue
            for oid in self.ids(folder.name):
                yield oid
                with contextlib.suppress(NotFound, ValueError):
                    receipt = Receipt.from_bytes(self.store.read_bytes(oid, verify=False))
                    if receipt.diff_image:
                        yield receipt.diff_image
