"""Every error the API answers is ``{"error": {"kind": ..., "message": ...}}``.

Client mistakes are 4xx with a message that says what to fix; a 500 only ever means a
bug of the server (its message says to look at the server's log, never a traceback).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from serve.api.schemas import ErrorResponse
from serve.errors import AdminError, BlobStoreUnavailableError, ConflictError, StoreError

log = logging.getLogger(__name__)

STATUS_OF_KIND = {
    "INVALID_ARGUMENT": 400,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "FAILED_PRECONDITION": 409,
    "UNAVAILABLE": 503,
    "INTERNAL": 500,
}
_KIND_OF_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "ALREADY_EXISTS",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RESOURCE_EXHAUSTED",
}
# A database or blob store that turned a call away is usually back within seconds (a
# restart, a failover): its 503 says when to try again. Other 503s (a server built
# without a launcher) are not passing, and say nothing.
_PASSING = (StoreError, BlobStoreUnavailableError)
RETRY_AFTER_S = 5
# The error responses of every API route, for the OpenAPI document.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": kind}
    for status, kind in (
        (400, "INVALID_ARGUMENT"),
        (401, "UNAUTHENTICATED: the server has a token configured and the call brings none "
              "it takes (Authorization: Bearer <token>)"),
        (403, "PERMISSION_DENIED: the token's scope is too small for the call"),
        (404, "NOT_FOUND"), (409, "ALREADY_EXISTS or FAILED_PRECONDITION"),
        (413, "PAYLOAD_TOO_LARGE"),
        (415, "UNSUPPORTED_MEDIA_TYPE: the body is not declared as JSON"),
        (429, "RESOURCE_EXHAUSTED: over a rate limit (see Retry-After)"),
        (503, "UNAVAILABLE"))
}


def created_responses(model: type[BaseModel], when: str) -> dict[int | str, dict[str, Any]]:
    """The extra answer of a creating route whose status is 201: 200 with the existing
    ``model`` when ``when`` (an identical request made before)."""
    return {200: {"model": model, "description": f"Nothing created: {when}"}}


def error_response(status: int, kind: str, message: str, *, paths: list[str] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"kind": kind, "message": message}
    if paths is not None:
        body["paths"] = paths
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _admin_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AdminError)
    status = STATUS_OF_KIND.get(exc.kind, 500)
    if status >= 500:
        log.error("admin API: %s", exc)
    paths = exc.paths if isinstance(exc, ConflictError) else None
    headers = {"Retry-After": str(RETRY_AFTER_S)} if isinstance(exc, _PASSING) else None
    return error_response(status, exc.kind, str(exc), paths=paths, headers=headers)


def _invalid_request(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors()[:10]:
        where = ".".join(str(part) for part in error.get("loc", ()))
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return error_response(400, "INVALID_ARGUMENT", "invalid request: " + "; ".join(problems))


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    kind = _KIND_OF_STATUS.get(exc.status_code, "INVALID_ARGUMENT"
                               if exc.status_code < 500 else "INTERNAL")
    message = str(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = "no such path; the admin API is under /api/v1 (see /docs)"
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return error_response(exc.status_code, kind, message, headers=headers or None)


def allowed_methods(request: Request) -> list[str]:
    """The methods of every route at the request's path. Starlette's 405 names only those
    of the first route that matched the path, though GET and POST of one path are two
    routes."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods and \
                route.matches(request.scope)[0] is not Match.NONE:
            methods |= route.methods
    return sorted(methods)


def _crash(_: Request, exc: Exception) -> JSONResponse:
    log.exception("admin API: internal error", exc_info=exc)
    return error_response(500, "INTERNAL", "internal error of the admin server; its log has "
                                           "the details")


def install(app: FastAPI) -> None:
    app.add_exception_handler(AdminError, _admin_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _crash)
