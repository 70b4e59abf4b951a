"""Console pages of projects and of a domain's executions; the entity pages, the launch
form and the actions are included from their own modules.

The executions list takes its filters from the URL (so a filtered list is a link) and
pages with the store's tokens, 50 rows a page. Its script polls the same URL with
``X-Fragment: 1`` for the rows alone while any row has not ended.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from engine.dag.run.state import ExecutionPhase
from serve.api.deps import Store
from serve.console import actions, entity_pages, launch
from serve.console.page_errors import error_page
from serve.console.templating import render
from serve.errors import AdminError, InvalidArgumentError
from serve.store import ListOptions
from serve.store.execution_records import TERMINAL_PHASES, Execution, ExecutionFilters

router = APIRouter()
PAGE_SIZE = 50
_WINDOW = dt.timedelta(hours=24)
Text = Annotated[str, Query(max_length=512)]


@router.get("/", response_class=HTMLResponse)
def projects(request: Request, store: Store) -> HTMLResponse:
    """Every project and its domains, with the last 24 hours' executions by phase."""
    page = store.list_projects(ListOptions(limit=1000))
    counts = store.execution_counts(dt.datetime.now(dt.timezone.utc) - _WINDOW)
    return render(request, "projects.html", projects=page.items, counts=counts,
                  phases=list(ExecutionPhase))


@dataclass(frozen=True)
class Row:
    """An execution as a row of the list."""

    execution: Execution
    duration_s: float | None
    error_line: str | None
    terminal: bool

    @classmethod
    def of(cls, e: Execution, now: dt.datetime) -> Row:
        end = e.ended_at or (now if e.started_at else None)
        duration = (end - e.started_at).total_seconds() if e.started_at and end else None
        line = e.error.message.strip().splitlines()[0][:200] if e.error and \
            e.error.message.strip() else None
        return cls(e, duration, line, e.phase in TERMINAL_PHASES)


@dataclass(frozen=True)
class Filters:
    """The list's filters as the URL gives them (text, so a refused one is shown as
    typed)."""

    phases: tuple[str, ...]
    launch_plan: str
    workflow: str
    version: str
    after: str
    before: str

    def store_filters(self) -> ExecutionFilters:
        """The store's filters; InvalidArgumentError names a filter that is not valid."""
        try:
            phases = tuple(ExecutionPhase(p) for p in self.phases)
        except ValueError:
            raise InvalidArgumentError(f"phase must be one of "
                                       f"{', '.join(p.value for p in ExecutionPhase)}") from None
        return ExecutionFilters(phases, self.launch_plan or None, _moment("after", self.after),
                                _moment("before", self.before), (), self.workflow or None,
                                self.version or None)

    def query(self, **more: str) -> str:
        """The URL query of these filters (and ``more``)."""
        pairs = [("phase", p) for p in self.phases] + [
            (k, v) for k, v in (("launch_plan", self.launch_plan), ("workflow", self.workflow),
                                ("version", self.version), ("after", self.after),
                                ("before", self.before), *more.items()) if v]
        return urlencode(pairs)


def _moment(name: str, text: str) -> dt.datetime | None:
    """A time filter: ISO 8601 (what a datetime-local input sends); without a zone, UTC."""
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArgumentError(f"started {name}: {text[:40]!r} is not a date and time "
                                   "such as 2026-01-31T12:00") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)  # stored times are UTC (compared as text)


@router.get("/projects/{project}/domains/{domain}/executions", response_class=HTMLResponse)
def executions(request: Request, project: str, domain: str, store: Store,
               phase: Annotated[list[str] | None, Query(max_length=16)] = None,
               launch_plan: Text = "", workflow: Text = "", version: Text = "",
               after: Text = "", before: Text = "",
               token: Annotated[str, Query(max_length=2048)] = "") -> HTMLResponse:
    """A page of the domain's executions, newest first, filtered as the URL says."""
    filters = Filters(tuple(phase or ()), launch_plan, workflow, version, after, before)
    try:
        page = store.list_executions(project, domain, filters.store_filters(),
                                     ListOptions(limit=PAGE_SIZE, token=token))
        error = None
    except InvalidArgumentError as e:
        page, error = None, str(e)
    except AdminError as e:
        return error_page(request, e, f"list the executions of {project}/{domain}")
    now = dt.datetime.now(dt.timezone.utc)
    rows = [Row.of(e, now) for e in page.items] if page else []
    fragment = request.headers.get("x-fragment") == "1"
    return render(request, "_execution_rows.html" if fragment else "executions.html",
                  status_code=200 if error is None else 400, project=project,
                  domain=domain, rows=rows, filters=filters, error=error,
                  next_token=page.token if page else "", first_page=not token,
                  phases=list(ExecutionPhase))


router.include_router(entity_pages.router)
router.include_router(launch.router)
router.include_router(actions.router)
