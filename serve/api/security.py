"""Guards in front of every route: the caller's token and its scope, the body size limit.

A pure ASGI middleware, so it covers every router added later without each route having
to remember it. With a token configured (``serve.api.tokens``), every call needs one,
reads included: ``/api/v1``, ``/openapi.json``, ``/docs``, and any path no route serves.
The exceptions, matched exactly (never by prefix or suffix, so ``/api/v1/x/healthz`` is
no exception), are ``/healthz``, for load balancers, and the console (``/console`` and
below): a browser signs in once and carries a session cookie, which the console checks
itself (``serve.console.auth``), with a CSRF token on every form.

A call presents ``Authorization: Bearer <token>``; a GET or HEAD may instead carry the
console's session cookie, so that the console's scripts read the API as the signed-in
user. A mutating call takes the bearer token only: a browser sends cookies to any site's
form, never an Authorization header. No credential, or one the server does not take:
401; a token whose scope is too small for the call: 403. The body limit holds for all.
A body sent to ``/api/v1`` must be JSON: one declared as anything else (a pickle as
``application/octet-stream``, a form) is refused with 415 before any route reads it.
"""

from __future__ import annotations

from starlette._utils import get_route_path
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serve.api.errors import error_response
from serve.api.tokens import SESSION_COOKIE, Tokens
from serve.api.tokens import Scope as TokenScope

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Methods a console session cookie may be used for: those that change nothing.
COOKIE_METHODS = frozenset({"GET", "HEAD"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
OPEN_PATHS = frozenset({"/healthz"})
CONSOLE = "/console"
API = "/api/v1/"
# Calls that change the server for every user, not one project's work.
ADMIN_CALLS = frozenset({("POST", "/api/v1/projects"), ("POST", "/api/v1/executors/drain")})


def needed_scope(method: str, path: str) -> TokenScope:
    """The scope a call of ``method`` on ``path`` (as routing sees it) needs."""
    if method in READ_METHODS:
        return TokenScope.READ
    return TokenScope.ADMIN if (method, path) in ADMIN_CALLS else TokenScope.WRITE


class RequestGuard:
    """401 for a call without a token the server takes (when one is configured), 403 for
    one whose scope is too small, 413 for a body over ``max_body_bytes``, 415 for an API
    body that says it is not JSON; otherwise passes the request on."""

    def __init__(self, app: ASGIApp, tokens: Tokens, max_body_bytes: int) -> None:
        self.app = app
        self.tokens = tokens
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and self.tokens.required:
            # No route takes a websocket today; one added later is closed, not open.
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.tokens.required and _guarded(get_route_path(scope)):
            refusal = self._refusal(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        if scope["method"] not in MUTATING:
            await self.app(scope, receive, send)
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
        if body and not _json_or_undeclared(scope):
            await _not_json(scope, receive, send)
            return
        await self.app(scope, _replay(bytes(body), receive), send)

    def _refusal(self, scope: Scope) -> ASGIApp | None:
        """The answer to a call without a sufficient credential; None when it has one."""
        method = str(scope["method"])
        connection = HTTPConnection(scope)
        authorization = connection.headers.get("authorization")
        granted: TokenScope | None = None
        if authorization is not None:
            kind, _, given = authorization.partition(" ")
            if kind.lower() == "bearer" and given.strip():
                granted = self.tokens.scope_of_token(given.strip())
        elif method in COOKIE_METHODS and SESSION_COOKIE in connection.cookies:
            granted = self.tokens.scope_of_session(connection.cookies[SESSION_COOKIE])
        if granted is None:
            return error_response(
                401, "UNAUTHENTICATED", "this admin server needs a token on every call: "
                "send the header 'Authorization: Bearer <token>' with FLYRAY_ADMIN_TOKEN or "
                "a token of its tokens file (clients: --token or FLYRAY_ADMIN_TOKEN)",
                headers={"WWW-Authenticate": "Bearer"})
        needed = needed_scope(method, get_route_path(scope))
        if granted < needed:
            return error_response(
                403, "PERMISSION_DENIED", f"{method} {get_route_path(scope)} needs a token "
                f"with the {needed.label} scope; this one has the {granted.label} scope")
        return None

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


def _guarded(path: str) -> bool:
    """Whether a call on ``path`` needs a token: all but the exact exceptions."""
    console = path == CONSOLE or path.startswith(f"{CONSOLE}/")
    return path not in OPEN_PATHS and not console


def _json_or_undeclared(scope: Scope) -> bool:
    """Whether a body may go on: outside the API (the console takes forms), or declared
    JSON (``application/json``, ``application/*+json``), or of no declared type."""
    if not get_route_path(scope).startswith(API):
        return True
    declared = _header(scope, b"content-type")
    if declared is None:
        return True
    media = declared.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/")
                                            and media.endswith(b"+json"))


async def _not_json(scope: Scope, receive: Receive, send: Send) -> None:
    declared = (_header(scope, b"content-type") or b"").decode("latin-1")[:100]
    response = error_response(
        415, "UNSUPPORTED_MEDIA_TYPE", f"the admin API takes JSON bodies only, not "
        f"{declared!r}: send the header 'Content-Type: application/json'")
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
