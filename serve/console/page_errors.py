"""How a console page shows a refusal of the store or the execution service: an HTML
page with what was being done, the error's kind and message, and a way back, never the
API's JSON. The HTTP status is the API's for the same error."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse

from serve.api.errors import STATUS_OF_KIND
from serve.console.auth import safe_next
from serve.errors import AdminError


def status_of(error: AdminError) -> int:
    """The HTTP status the API answers ``error`` with."""
    return STATUS_OF_KIND.get(error.kind, 500)


def error_page(request: Request, error: AdminError, doing: str,
               back: str | None = None) -> HTMLResponse:
    """The page saying that ``doing`` (e.g. "terminate the execution") failed."""
    from serve.console.templating import render

    return render(request, "error.html", status_code=status_of(error), doing=doing,
                  kind=error.kind, message=str(error),
                  back=back or _referrer(request))


def _referrer(request: Request) -> str:
    """The console page the request came from (never another site's)."""
    parts = urlsplit(request.headers.get("referer", ""))
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return safe_next(path if parts.netloc in ("", request.headers.get("host")) else None)
