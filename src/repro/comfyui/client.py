"""A small client for a running ComfyUI server's HTTP API (standard library only).

Only the read-only routes repro needs: ``GET /system_stats``, ``GET /history``
(``?max_items=N``), ``GET /history/{prompt_id}``, ``GET /queue`` and
``GET /object_info``. Answers
are untrusted input: each is read up to a size bound and parsed with the
bounded JSON reader. Polling these routes is all the follower needs; the
``/ws`` event stream would only tell sooner what ``/history`` tells anyway.
"""

from __future__ import annotations

import ipaddress
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from repro import jsonsafe
from repro.errors import InputError, LimitExceeded, ReproError, UsageError

#: Largest answer read from the server. ``/history`` holds whole workflows
#: (up to 10,000 entries on a busy server), so it gets the JSON reader's bound.
MAX_RESPONSE = jsonsafe.MAX_JSON_BYTES


class ServerUnreachable(ReproError):
    """The ComfyUI server did not answer (refused, timed out, not HTTP)."""

    hint = "is ComfyUI running? check the URL (e.g. http://127.0.0.1:8188)"


class ServerError(InputError):
    """The server answered, but not with what its API documents."""


def normalize_url(url: str) -> str:
    """``http://host:port`` without a trailing slash; ``host:port`` gets ``http://``."""
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"not a ComfyUI server URL: {url!r}",
                         hint="give one like http://127.0.0.1:8188")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def is_loopback(url: str) -> bool:
    """Whether the server runs on this machine (its local environment is the server's)."""
    host = urllib.parse.urlsplit(normalize_url(url)).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ComfyClient:
    """Read-only access to one ComfyUI server."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = normalize_url(url)
        self.timeout = timeout

    def get(self, route: str) -> tuple[bytes, Any]:
        """``GET`` a route: its raw answer (kept verbatim as a blob) and the parsed JSON."""
        address = self.url + route
        request = urllib.request.Request(address, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read(MAX_RESPONSE + 1)
        except urllib.error.HTTPError as exc:
            exc.close()
            raise ServerError(f"{address}: the server answered HTTP {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServerUnreachable(f"{self.url}: no answer ({reason})") from None
        if len(body) > MAX_RESPONSE:
            raise LimitExceeded(f"{address}: the answer is over {MAX_RESPONSE} bytes")
        try:
            return body, jsonsafe.loads(body, what=address)
        except LimitExceeded:
            raise
        except InputError as exc:
            raise ServerError(f"{address}: not JSON ({exc})") from None

    def _object(self, route: str) -> tuple[bytes, dict[str, Any]]:
        body, value = self.get(route)
        if not isinstance(value, dict):
            raise ServerError(f"{self.url}{route}: expected a JSON object, got "
                              f"{type(value).__name__}")
        return body, value

    def system_stats(self) -> tuple[bytes, dict[str, Any]]:
        """``GET /system_stats`` (raw, parsed): versions, devices and launch flags."""
        return self._object("/system_stats")

    def history(self, max_items: int | None = None) -> dict[str, Any]:
        """``GET /history``: ``{prompt_id: entry}``, the ``max_items`` most recent when given."""
        route = "/history" if max_items is None else f"/history?max_items={int(max_items)}"
        return self._object(route)[1]

    def history_entry(self, prompt_id: str) -> tuple[bytes, dict[str, Any]] | None:
        """``GET /history/{prompt_id}`` (raw answer, entry), or None when the server
        no longer has it."""
        body, answer = self._object("/history/" + urllib.parse.quote(prompt_id, safe=""))
        entry = answer.get(prompt_id)
        return (body, entry) if isinstance(entry, dict) else None

    def queue(self) -> dict[str, Any]:
        """``GET /queue``: ``{"queue_running": [...], "queue_pending": [...]}``."""
        return self._object("/queue")[1]

    def object_info(self) -> dict[str, Any]:
        """``GET /object_info``: every node class the server knows, by class name."""
        return self._object("/object_info")[1]


__all__ = ["ComfyClient", "ServerError", "ServerUnreachable", "is_loopback", "normalize_url"]
