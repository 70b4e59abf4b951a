"""The console's login and its protection against cross-site requests.

When the admin has a token (``FLYRAY_ADMIN_TOKEN``), every console page asks for it once:
``/console/login`` takes it in a form and sets a session cookie (HttpOnly,
SameSite=Strict) holding a keyed hash of the token, never the token itself; rotating the
token ends every session. Without a token the console is as open as the API.

Every form that changes state carries a CSRF token (double submit: a random value in a
SameSite=Strict cookie, repeated in the form or in the ``X-CSRF-Token`` header), and a
request whose ``Origin`` is another site is refused whatever it carries.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

SESSION_COOKIE = "flyray_session"
CSRF_COOKIE = "flyray_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
_SESSION_SALT = b"flyray-console-session-v1"


class LoginRequired(Exception):  # noqa: N818  (a control-flow signal, not an error)
    """Raised by :func:`require_session`; the console answers with its login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CrossSiteRequest(Exception):  # noqa: N818
    """A state-changing request without a matching CSRF token, or from another origin."""


def _token(request: Request) -> str | None:
    token: str | None = request.app.state.settings.admin_token
    return token or None


def token_required(request: Request) -> bool:
    return _token(request) is not None


def session_value(token: str) -> str:
    """The session cookie's value for ``token``: a keyed hash, useless elsewhere."""
    return hmac.new(token.encode(), _SESSION_SALT, hashlib.sha256).hexdigest()


def signed_in(request: Request) -> bool:
    token = _token(request)
    if token is None:
        return True
    given = request.cookies.get(SESSION_COOKIE, "")
    return hmac.compare_digest(given.encode(), session_value(token).encode())


def require_session(request: Request) -> None:
    """A dependency of every console route: the login page unless signed in."""
    if not signed_in(request):
        raise LoginRequired(request.url.path + (f"?{request.url.query}"
                                                if request.url.query else ""))


def csrf_token(request: Request) -> str:
    """The CSRF token of this browser (a new one is set as a cookie by ``render``)."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing and len(existing) == 43:
        return existing
    fresh: str | None = getattr(request.state, "new_csrf", None)
    if fresh is None:
        fresh = secrets.token_urlsafe(32)
        request.state.new_csrf = fresh
    return fresh


def remember_csrf(request: Request, response: Response) -> None:
    """Set the CSRF cookie on ``response`` when this request made a new token."""
    fresh = getattr(request.state, "new_csrf", None)
    if fresh is not None:
        response.set_cookie(CSRF_COOKIE, fresh, httponly=True, samesite="strict",
                            path="/console")


async def check_csrf(request: Request) -> None:
    """A dependency of every console route that changes state."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise CrossSiteRequest(f"a request from {origin[:100]!r}, another site")
    expected = request.cookies.get(CSRF_COOKIE, "")
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        form = await request.form()
        field = form.get(CSRF_FIELD)
        given = field if isinstance(field, str) else ""
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise CrossSiteRequest("the form's CSRF token is missing or does not match this "
                               "browser's; reload the page and try again")


def safe_next(path: str | None) -> str:
    """Where to go after the login: a console path of this server, nothing else."""
    if not path or not path.startswith("/console") or path.startswith("//") or "\\" in path:
        return "/console/"
    return path


router = APIRouter()


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request, next: str = "/console/") -> HTMLResponse:  # noqa: A002
    from serve.console.templating import render

    return render(request, "login.html", next_path=safe_next(next), error=None)


@router.post("/login", response_class=HTMLResponse, include_in_schema=False,
             dependencies=[Depends(check_csrf)])
def login(request: Request, token: Annotated[str, Form(max_length=4096)],
          next: Annotated[str, Form(max_length=2048)] = "/console/") -> Response:  # noqa: A002
    from serve.console.templating import render

    expected = _token(request)
    if expected is not None and not hmac.compare_digest(token.encode(), expected.encode()):
        return render(request, "login.html", status_code=401, next_path=safe_next(next),
                      error="That is not the admin server's token.")
    response = RedirectResponse(safe_next(next), status_code=303)
    if expected is not None:
        response.set_cookie(SESSION_COOKIE, session_value(expected), httponly=True,
                            samesite="strict", path="/")
    return response


@router.post("/logout", include_in_schema=False, dependencies=[Depends(check_csrf)])
def logout() -> Response:
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def login_redirect(next_path: str) -> Response:
    return RedirectResponse(f"/console/login?next={quote(next_path, safe='/')}",
                            status_code=303)
