"""Guards in front of every route: the bearer token of mutating calls, the body size limit.

A pure ASGI middleware, so it covers every router added later (executions included)
without each route having to remember it. Reads (GET, HEAD, OPTIONS) stay open. The
console's pages (``/console/...``) take no bearer token: a browser signs in once and
carries a session cookie, which the console checks itself (``serve.console.auth``), with
a CSRF token on every form; the body limit holds for them too.
"""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serve.api.errors import error_response

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CONSOLE_PREFIX = "/console/"


class RequestGuard:
    """401 for a mutating call without ``Authorization: Bearer <token>`` (when a token is
    set), 413 for a body over ``max_body_bytes``; otherwise passes the request on."""

    def __init__(self, app: ASGIApp, token: str | None, max_body_bytes: int) -> None:
        self.app = app
        self._token = token.encode() if token else None
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in MUTATING:
            await self.app(scope, receive, send)
            return
        console = str(scope.get("path", "")).startswith(CONSOLE_PREFIX)
        if self._token is not None and not console and not self._authorized(scope):
            response = error_response(
                401, "UNAUTHENTICATED", "this call changes the admin server's state and needs "
                "the header 'Authorization: Bearer <token>' with the server's admin token "
                "(FLYRAY_ADMIN_TOKEN)", headers={"WWW-Authenticate": "Bearer"})
            await response(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit()
                                     or int(declared) > self.max_body_bytes):
            await self._too_large(scope, receive, send, declared)
            return
        # Read the body here, counting, so a body without Content-Length is limited too.
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:
                await self._too_large(scope, receive, send, None)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(bytes(body), receive), send)

    def _authorized(self, scope: Scope) -> bool:
        assert self._token is not None
        value = _header(scope, b"authorization") or b""
        scheme, _, given = value.partition(b" ")
        # compare_digest takes the same time wherever the first difference is.
        return scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self._token)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send,
                         declared: bytes | None) -> None:
        if declared is not None and not declared.isdigit():
            response = error_response(400, "INVALID_ARGUMENT",
                                      "the Content-Length header is not a number")
        else:
            response = error_response(
                413, "PAYLOAD_TOO_LARGE", f"the request body is larger than the admin "
                f"server's limit of {self.max_body_bytes} bytes (admin_max_request_bytes)")
        await response(scope, receive, send)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value)
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # later calls wait for the disconnect, as usual

    return replay
