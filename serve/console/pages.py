"""Console pages of projects, executions lists, and registered entities."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from serve.api.deps import Store
from serve.console.templating import render
from serve.store import ListOptions

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def projects(request: Request, store: Store) -> HTMLResponse:
    """Every project and its domains."""
    page = store.list_projects(ListOptions(limit=1000))
    return render(request, "projects.html", projects=page.items)
