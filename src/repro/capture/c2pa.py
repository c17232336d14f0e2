"""C2PA provenance: a small bounded JUMBF box walker and CBOR decoder.

Only what provenance needs is read: the active (last) manifest's claim
generator and its ``c2pa.actions`` assertion (action, software agent, digital
source type). No signature is verified: this says what a file *claims*.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from repro.errors import InputError

_MAX_DEPTH = 32
_MAX_ITEMS = 100_000


@dataclass
class Box:
    """A JUMBF superbox: its label and its content boxes (type, payload) or children."""

    label: str | None = None
    children: list[Box] = field(default_factory=list)
    contents: list[tuple[bytes, bytes]] = field(default_factory=list)


def parse_jumbf(data: bytes) -> list[Box]:
    """Parse the top-level JUMBF superboxes of a manifest store."""
    return _boxes(data, 0)


def _iter_boxes(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(type, payload) of each box in ``data``; stops at the first malformed header."""
    pos = 0
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if length == 1:
            if pos + 16 > len(data):
                return
            (length,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif length == 0:
            length = len(data) - pos
        if length < header or pos + length > len(data):
            return
        yield kind, data[pos + header:pos + length]
        pos += length


def _boxes(data: bytes, depth: int) -> list[Box]:
    return [_superbox(body, depth) for kind, body in _iter_boxes(data) if kind == b"jumb"]


def _superbox(body: bytes, depth: int) -> Box:
    if depth > _MAX_DEPTH:
        raise InputError("C2PA: JUMBF boxes nested too deeply")
    box = Box()
    for kind, payload in _iter_boxes(body):
        if kind == b"jumd":
            box.label = _label(payload)
        elif kind == b"jumb":
            box.children.append(_superbox(payload, depth + 1))
        else:
            box.contents.append((kind, payload))
    return box


def _label(description: bytes) -> str | None:
    # jumd: 16-byte type UUID, toggles byte, then a NUL-terminated label if bit 1 is set.
    if len(description) < 17 or not description[16] & 0x02:
        return None
    raw, _, _ = description[17:].partition(b"\0")
    return raw.decode("utf-8", errors="replace")


class _Cbor:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.items = 0

    def _take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise InputError("C2PA: CBOR item runs past its box")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def _argument(self, info: int) -> int | None:
        if info < 24:
            return info
        if info in (24, 25, 26, 27):
            return int.from_bytes(self._take(1 << (info - 24)), "big")
        if info == 31:
            return None  # indefinite length
        raise InputError("C2PA: malformed CBOR")

    def item(self, depth: int = 0) -> Any:
        self.items += 1
        if depth > _MAX_DEPTH or self.items > _MAX_ITEMS:
            raise InputError("C2PA: CBOR too deep or too large")
        initial = self._take(1)[0]
        major, info = initial >> 5, initial & 0x1F
        if major == 7:
            return self._simple(info)
        arg = self._argument(info)
        if major == 0:
            return arg
        if major == 1:
            return -1 - (arg or 0)
        if major in (2, 3):
            raw = self._take(arg) if arg is not None else self._chunks(major)
            return raw.decode("utf-8", errors="replace") if major == 3 else raw
        if major == 4:
            return self._sequence(arg, depth)
        if major == 5:
            pairs = self._sequence(None if arg is None else 2 * arg, depth)
            result: dict[Any, Any] = {}
            for key, value in zip(pairs[0::2], pairs[1::2], strict=False):
                result[key if isinstance(key, str | int) else repr(key)] = value
            return result
        return self.item(depth + 1)  # major 6: a tag; keep the tagged value

    def _simple(self, info: int) -> Any:
        if info == 20:
            return False
        if info == 21:
            return True
        if info in (22, 23):
            return None
        if info == 25:
            return _half(self._take(2))
        if info == 26:
            return struct.unpack(">f", self._take(4))[0]
        if info == 27:
            return struct.unpack(">d", self._take(8))[0]
        if info < 24:
            return info
        if info == 24:
            return self._take(1)[0]
        raise InputError("C2PA: unexpected CBOR break")

    def _chunks(self, major: int) -> bytes:
        parts: list[bytes] = []
        while self.data[self.pos:self.pos + 1] != b"\xff":
            initial = self._take(1)[0]
            if initial >> 5 != major:
                raise InputError("C2PA: malformed indefinite CBOR string")
            length = self._argument(initial & 0x1F)
            parts.append(self._take(length if length is not None else -1))
        self.pos += 1
        return b"".join(parts)

    def _sequence(self, count: int | None, depth: int) -> list[Any]:
        values: list[Any] = []
        if count is None:
            while True:
                if self.pos >= len(self.data):
                    raise InputError("C2PA: CBOR array runs past its box")
                if self.data[self.pos] == 0xFF:
                    self.pos += 1
                    return values
                values.append(self.item(depth + 1))
        if count > len(self.data) - self.pos:
            raise InputError("C2PA: CBOR array longer than its box")
        for _ in range(count):
            values.append(self.item(depth + 1))
        return values


def _half(raw: bytes) -> float:
    return float(struct.unpack(">e", raw)[0])


def cbor_loads(data: bytes) -> Any:
    """Decode one CBOR item (bounded depth and item count)."""
    return _Cbor(data).item()


def _cbor_of(box: Box) -> Any:
    for kind, payload in box.contents:
        if kind == b"cbor":
            return cbor_loads(payload)
    return None


def _agent(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        version = value.get("version")
        return value["name"] + (f" {version}" if isinstance(version, str) else "")
    return None


def provenance(jumbf: bytes) -> dict[str, Any]:
    """``{"claim_generator", "actions", "digital_source_type", "manifest"}`` of the active manifest."""
    stores = [b for b in parse_jumbf(jumbf) if b.label == "c2pa"]
    if not stores or not stores[-1].children:
        raise InputError("C2PA: no manifest store")
    manifest = stores[-1].children[-1]
    result: dict[str, Any] = {"manifest": manifest.label, "claim_generator": None}
    actions: list[dict[str, Any]] = []
    for child in manifest.children:
        if child.label in ("c2pa.claim", "c2pa.claim.v2"):
            claim = _cbor_of(child)
            if isinstance(claim, dict):
                generator = claim.get("claim_generator")
                info = claim.get("claim_generator_info")
                if isinstance(info, list) and info:
                    info = info[0]
                result["claim_generator"] = generator if isinstance(generator, str) else _agent(info)
        elif child.label == "c2pa.assertions":
            for assertion in child.children:
                if assertion.label and assertion.label.startswith("c2pa.actions"):
                    body = _cbor_of(assertion)
                    listed = body.get("actions") if isinstance(body, dict) else None
                    for action in listed if isinstance(listed, list) else []:
                        if isinstance(action, dict):
                            actions.append(_action(action))
    result["actions"] = actions
    source = next((a["digitalSourceType"] for a in actions if "digitalSourceType" in a), None)
    result["digital_source_type"] = source
    return result


def _action(action: dict[Any, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    if isinstance(action.get("action"), str):
        kept["action"] = action["action"]
    agent = _agent(action.get("softwareAgent"))
    if agent:
        kept["softwareAgent"] = agent
    if isinstance(action.get("digitalSourceType"), str):
        kept["digitalSourceType"] = action["digitalSourceType"]
    return kept


def tool_of(facts: dict[str, Any]) -> str | None:
    """The record's tool name for a known generative claim generator, else None."""
    generator = str(facts.get("claim_generator") or "").lower()
    agents = " ".join(str(a.get("softwareAgent", "")) for a in facts.get("actions", [])).lower()
    text = generator + " " + agents
    if "openai" in text or "dall" in text or "chatgpt" in text:
        return "dalle"
    if "firefly" in text or ("adobe" in generator and "trainedalgorithmic" in
                             str(facts.get("digital_source_type") or "").lower()):
        return "firefly"
    return None
