"""The execution detail page: header, error banner, and its node views."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from serve.api.deps import Store
from serve.console.templating import render
from serve.store.execution_records import ExecutionId

router = APIRouter()


@router.get("/projects/{project}/domains/{domain}/executions/{name}",
            response_class=HTMLResponse)
def execution(request: Request, project: str, domain: str, name: str,
              store: Store) -> HTMLResponse:
    """One execution: its header first; node data is fetched by the page's script."""
    record = store.get_execution(ExecutionId(project, domain, name))
    return render(request, "execution.html", execution=record)
