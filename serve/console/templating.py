"""How console pages are rendered: one Jinja2 environment over ``templates/``, and the
context every page gets (the CSRF token of its forms, whether a login is needed, the
static files' version)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from serve.console.auth import csrf_token, remember_csrf, token_required

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
PREFIX = "/console"
# Static files are cached by browsers; the version in their URLs changes with the code.
STATIC_VERSION = "1"

# Autoescaping is on for .html templates (Starlette selects it by extension).
templates = Jinja2Templates(directory=str(HERE / "templates"))


def render(request: Request, name: str, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    """The page ``name`` with ``context`` and what every page shares."""
    shared = {
        "prefix": PREFIX,
        "static": f"{PREFIX}/static",
        "static_version": STATIC_VERSION,
        "csrf_token": csrf_token(request),
        "login_required": token_required(request),
    }
    response = templates.TemplateResponse(request, name, {**shared, **context},
                                          status_code=status_code)
    remember_csrf(request, response)
    return response
