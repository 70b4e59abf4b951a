"""The console's routes on the admin app: static files, login, and the pages.

Every page needs a session when the admin has a token (``auth.require_session``); a
page answers the login form instead, and a JSON route of the console's scripts 401.
A refused cross-site request answers 403.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from serve.api.errors import error_response
from serve.console import auth, execution_page, pages
from serve.console.templating import PREFIX, STATIC_DIR


class ConsoleGzip:
    """Gzip for the console's pages, scripts and JSON (a graph's geometry shrinks about
    sevenfold), never for its event stream or the API's streamed logs, which must reach
    the browser as they are written rather than when a compressor's buffer fills."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=1024)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", "")) if scope["type"] == "http" else ""
        if path.startswith(f"{PREFIX}/") and not path.endswith("/events"):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def install(app: FastAPI) -> None:
    """Serve the console under ``/console`` of ``app``."""
    app.add_middleware(ConsoleGzip)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC_DIR), name="console-static")
    app.include_router(auth.router, prefix=PREFIX)
    guarded = APIRouter(prefix=PREFIX, dependencies=[Depends(auth.require_session)],
                        include_in_schema=False)
    guarded.include_router(pages.router)
    guarded.include_router(execution_page.router)
    app.include_router(guarded)

    @app.exception_handler(auth.LoginRequired)
    async def login_required(request: Request, exc: auth.LoginRequired) -> Response:
        if "text/html" in request.headers.get("accept", ""):
            return auth.login_redirect(exc.next_path)
        return error_response(401, "UNAUTHENTICATED", "sign in to the console first "
                              "(/console/login)")

    @app.exception_handler(auth.CrossSiteRequest)
    async def cross_site(request: Request, exc: auth.CrossSiteRequest) -> Response:
        return error_response(403, "PERMISSION_DENIED", str(exc))
