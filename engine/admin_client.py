"""A small client of the admin API over HTTP (the standard library's urllib).

Every command that talks to the control plane goes through :class:`AdminClient`, so
the endpoint, the bearer token and the two kinds of failure are handled in one place:
:class:`AdminUnreachableError` (nothing answers: say how to start one) and
:class:`AdminRequestError` (the server answered with its ``{"error": ...}`` body). A
request over the server's rate limit (429) is sent again after a short ``Retry-After``.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from engine.config import Settings
from engine.errors import FlyrayError

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_STREAM_PIECE = 64 * 1024  # bytes a streamed response is read in, at most
# A request the server refuses as over its rate limit (429) is sent again after the wait
# its Retry-After asks for, this many times at most, when that wait is this short; the
# server refuses before doing anything, so sending a create again is safe.
RATE_LIMIT_RETRIES = 3
RATE_LIMIT_MAX_WAIT_S = 10.0
START_HINT = ("start a local one with 'flyray demo start', or point --endpoint (or "
              "FLYRAY_ADMIN_ENDPOINT) at a running admin API")


class AdminUnreachableError(ConnectionError, FlyrayError):
    """Nothing answers at the admin endpoint (refused, timed out, not HTTP)."""


class AdminRequestError(FlyrayError):
    """The admin API answered a request with an error.

    Attributes:
        status: the HTTP status (400, 404, 409, ...).
        kind: the error's kind in the body (INVALID_ARGUMENT, ALREADY_EXISTS, ...).
        message: the server's message.
        paths: for ALREADY_EXISTS, where the spec differs from the registered one.
    """

    def __init__(self, method: str, path: str, status: int, kind: str, message: str,
                 paths: list[str] | None = None) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.kind = kind
        self.message = message
        self.paths = list(paths or [])
        super().__init__(f"{method} {path} failed with {status} {kind}: {message}")


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any


class AdminClient:
    """JSON over HTTP to the admin API at ``endpoint`` (``http://host:port``)."""

    def __init__(self, endpoint: str, token: str | None = None, timeout: float = 30.0) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.token = token
        self.timeout = timeout
        host = urllib.parse.urlsplit(self.endpoint).hostname or ""
        # A proxy configured for the internet must not see calls to this machine.
        handlers = [urllib.request.ProxyHandler({})] if host in _LOOPBACK else []
        self._opener = urllib.request.build_opener(*handlers)

    @classmethod
    def from_settings(cls, settings: Settings, endpoint: str | None = None,
                      token: str | None = None) -> AdminClient:
        """The client of ``endpoint`` (default: the admin_endpoint setting), sending
        ``token`` (default: the admin_token setting) when there is one."""
        return cls(endpoint or settings.admin_endpoint, token or settings.admin_token)

    def url(self, path: str, query: dict[str, Any] | None = None) -> str:
        given = {k: v for k, v in (query or {}).items() if v is not None and v != ""}
        suffix = f"?{urllib.parse.urlencode(given, doseq=True)}" if given else ""
        return f"{self.endpoint}{path}{suffix}"

    def request(self, method: str, path: str, body: Any = None,
                query: dict[str, Any] | None = None) -> Reply:
        """Send one request; the reply's body is parsed JSON (None when empty)."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.url(path, query), data=data, headers=headers,
                                     method=method)
        try:
            with self._open(req) as response:
                return Reply(response.status, _json(response.read()))
        except urllib.error.HTTPError as e:
            raise _request_error(method, path, e.code, e.read()) from None
        except urllib.error.URLError as e:
            raise self._unreachable(e.reason) from None
        except (OSError, http.client.HTTPException) as e:  # reset, timeout, not HTTP
            raise self._unreachable(e) from None

    def get(self, path: str, **query: Any) -> Any:
        return self.request("GET", path, query=query).body

    def stream(self, path: str, **query: Any) -> Iterator[bytes]:
        """GET a streamed (chunked) response: its bytes as they arrive, until the server
        ends it. Waits for each piece at most ``timeout`` seconds."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        req = urllib.request.Request(self.url(path, query), headers=headers, method="GET")
        try:
            with self._open(req) as response:
                while piece := response.read1(_STREAM_PIECE):
                    yield piece
        except urllib.error.HTTPError as e:
            raise _request_error("GET", path, e.code, e.read()) from None
        except urllib.error.URLError as e:
            raise self._unreachable(e.reason) from None
        except (OSError, http.client.HTTPException) as e:  # reset, timeout, not HTTP
            raise self._unreachable(e) from None

    def post(self, path: str, body: Any) -> Reply:
        return self.request("POST", path, body)

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, body).body

    def delete(self, path: str, body: Any = None) -> Any:
        return self.request("DELETE", path, body).body

    def check(self) -> None:
        """Raise AdminUnreachableError unless ``/healthz`` answers."""
        self.get("/healthz")

    def _open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        """The response to ``req``, after waiting out the server's rate limit (429) up to
        ``RATE_LIMIT_RETRIES`` times; HTTPError for any other error status, or a 429 that
        asks for more than ``RATE_LIMIT_MAX_WAIT_S``."""
        retries = 0
        while True:
            try:
                response: http.client.HTTPResponse = self._opener.open(
                    req, timeout=self.timeout)
                return response
            except urllib.error.HTTPError as e:
                wait_s = _retry_after_s(e)
                if wait_s is None or retries == RATE_LIMIT_RETRIES:
                    raise
                retries += 1
                e.close()
                time.sleep(wait_s)

    def _unreachable(self, reason: object) -> AdminUnreachableError:
        if isinstance(reason, (TimeoutError, socket.timeout)):
            why = f"no answer within {self.timeout:g} s"
        elif isinstance(reason, ConnectionRefusedError):
            why = "connection refused"
        else:
            why = str(reason) or type(reason).__name__
        return AdminUnreachableError(f"cannot reach the Flyray admin API at {self.endpoint} "
                                     f"({why}); {START_HINT}")


def _retry_after_s(error: urllib.error.HTTPError) -> float | None:
    """The wait a 429 asks for (its Retry-After, in seconds), when short enough to wait
    it out; None for another status, or a wait too long or not given in seconds."""
    retry_after = (error.headers.get("Retry-After") or "").strip() if error.headers else ""
    if error.code != 429 or not retry_after.isascii() or not retry_after.isdigit():
        return None
    wait_s = float(retry_after)
    return wait_s if wait_s <= RATE_LIMIT_MAX_WAIT_S else None


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return raw.decode(errors="replace")


def _request_error(method: str, path: str, status: int, raw: bytes) -> AdminRequestError:
    body = _json(raw)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return AdminRequestError(method, path, status, str(error.get("kind", "ERROR")),
                                 str(error["message"]), error.get("paths"))
    text = body if isinstance(body, str) else json.dumps(body)
    return AdminRequestError(method, path, status, "ERROR",
                             (text or "no message")[:500] + " (is this a Flyray admin API?)")
