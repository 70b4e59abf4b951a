"""The console's login and its protection against cross-site requests.

When the admin takes tokens (``serve.api.tokens``: ``FLYRAY_ADMIN_TOKEN``, the tokens
file), every console page asks for one once: ``/console/login`` takes it in a form and
sets a session cookie (HttpOnly, SameSite=Strict) holding a keyed hash of the token, never
the token itself. The session has the token's scope: a read token shows the pages, the
forms that change state need a write token. Rotating the token out ends every session
signed in with it. Without tokens the console is as open as the API.

Every form that changes state carries a CSRF token (double submit: a random value in a
SameSite=Strict cookie, repeated in the form or in the ``X-CSRF-Token`` header), and a
request whose ``Origin`` is another site is refused whatever it carries.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from serve.api.tokens import SESSION_COOKIE, Scope, Tokens, session_value

CSRF_COOKIE = "flyray_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
_READS = frozenset({"GET", "HEAD"})

class LoginRequired(Exception):  # noqa: N818  (a control-flow signal, not an error)
    """Raised by :func:`require_session`; the console answers with its login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CrossSiteRequest(Exception):  # noqa: N818
    """A state-changing request without a matching CSRF token, or from another origin."""


def _tokens(request: Request) -> Tokens:
    tokens: Tokens = request.app.state.tokens
    return tokens


def token_required(request: Request) -> bool:
    return _tokens(request).required


def session_scope(request: Request) -> Scope | None:
    """The scope of this browser's session: None when it has none (or its token was
    rotated out); every scope when the admin takes no tokens."""
    tokens = _tokens(request)
    if not tokens.required:
        return Scope.ADMIN
    return tokens.scope_of_session(request.cookies.get(SESSION_COOKIE, ""))


def signed_in(request: Request) -> bool:
    return session_scope(request) is not None


def require_session(request: Request) -> None:
    """A dependency of every console route: the login page unless signed in, and 403
    for a form that changes state in a session of a read-only token."""
    scope = session_scope(request)
    if scope is None:
        raise LoginRequired(request.url.path + (f"?{request.url.query}"
                                                if request.url.query else ""))
    if request.method not in _READS and scope < Scope.WRITE:
        raise HTTPException(403, "this session's token has the read scope; sign in with a "
                                 "token with the write scope to change anything")


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

    tokens = _tokens(request)
    if tokens.required and tokens.scope_of_token(token) is None:
        return render(request, "login.html", status_code=401, next_path=safe_next(next),
                      error="That is not the admin server's token.")
    response = RedirectResponse(safe_next(next), status_code=303)
    if tokens.required:
        response.set_cookie(SESSION_COOKIE, session_value(token), httponly=True,
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
