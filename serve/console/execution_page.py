"""The execution detail page and what its script reads: the page (header, error banner,
empty views) answers without touching node data; the script then fetches the graph's
geometry, the timeline, pages of the node tree, and follows the execution's change feed
over server-sent events (or, failing that, polls the API's ``.../changes``).

Routes (under ``/console``):

- ``/projects/{p}/domains/{d}/executions/{name}``: the page (``?view=&node=``);
- ``.../executions/{name}/nodes/{node_id}[?attempt=k]``: the node panel (a fragment for
  the page's script, ``X-Fragment: 1``; a whole page otherwise);
- ``.../executions/{name}/rows?parent=|group=&offset=&filter=``: a page of the node tree
  (200 rows): top-level, a node's children, or an inlined sub-workflow's nodes; ``filter``
  a quick filter (failed, running, cached);
- ``.../executions/{name}/events``: the change feed as server-sent events;
- ``/api/executions/{p}/{d}/{name}/graph|timeline`` and
  ``/api/workflows/{p}/{d}/{name}/{version}/graph``: JSON for the script.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from engine.dag.run.state import ExecutionPhase
from engine.dag.spec import Identifier, ResourceType, WorkflowSpec
from serve.api.changes import ExecutionChangesModel
from serve.api.deps import Store
from serve.console import diagnosis, node_panel
from serve.console.graph import Geometry, with_children, workflow_geometry
from serve.console.node_panel import workflow_spec
from serve.console.templating import render
from serve.console.timeline import timeline
from serve.store import AdminStore
from serve.store.execution_records import Execution, ExecutionId
from serve.store.execution_views import FILTERS, PAGE

router = APIRouter()
BASE = "/projects/{project}/domains/{domain}/executions/{name}"
POLL_S = 0.5  # how often the event stream reads the change feed
HEARTBEAT_S = 15.0


@router.get(BASE, response_class=HTMLResponse)
def execution(request: Request, project: str, domain: str, name: str, store: Store,
              view: str = "graph", node: str | None = None,
              only: Annotated[str | None, Query(alias="filter")] = None) -> HTMLResponse:
    """One execution: header, error banner and empty views; node data comes after.
    ``filter``: the node tree's quick filter (an unknown one shows every node)."""
    return _page(request, store, ExecutionId(project, domain, name), view, node, None,
                 only if only in FILTERS else None)


def _page(request: Request, store: AdminStore, ident: ExecutionId, view: str,
          node: str | None, panel: node_panel.Panel | None,
          only: str | None = None) -> HTMLResponse:
    """The page (``panel``: the selected node's, server-rendered for a deep link)."""
    record = store.get_execution(ident)
    banner = diagnosis.error_banner(record, store.failed_node(ident)
                                    if record.phase is not ExecutionPhase.QUEUED else None)
    return render(request, "execution.html", execution=record, banner=banner,
                  waiting=_execution_waiting(store, record),
                  view=view if view in ("nodes", "graph", "timeline") else "graph",
                  node=node, panel=panel, duration=_duration(record), filter=only,
                  base=f"/console/projects/{ident.project}/domains/{ident.domain}/"
                       f"executions/{ident.name}")


def _duration(record: Execution) -> str | None:
    if record.started_at is None:
        return None
    end = record.ended_at.timestamp() if record.ended_at else time.time()
    return diagnosis.duration(end - record.started_at.timestamp())


def _execution_waiting(store: AdminStore, record: Execution) -> str | None:
    if record.phase is not ExecutionPhase.QUEUED:
        return None
    limit = None
    if record.launch_plan is not None:
        limit = store.get(record.launch_plan).spec.get("max_parallel_executions")
    return diagnosis.execution_waiting(record, time.time(), limit)


@router.get(BASE + "/nodes/{node_id}", response_class=HTMLResponse)
def node(request: Request, project: str, domain: str, name: str, node_id: str,
         store: Store, attempt: int | None = None) -> HTMLResponse:
    """The node panel: a fragment for the page's script, a page for a deep link."""
    ident = ExecutionId(project, domain, name)
    record = store.get_execution(ident)
    panel = node_panel.build(store, record, store.get_node_execution(ident, node_id),
                             attempt)
    if request.headers.get("x-fragment") == "1":
        return render(request, "_node_panel.html", panel=panel, execution=record)
    return _page(request, store, ident, "graph", node_id, panel)


NodeFilter = Literal["failed", "running", "cached"]


@router.get(BASE + "/rows", response_class=HTMLResponse)
def rows(request: Request, project: str, domain: str, name: str, store: Store,
         parent: Annotated[str | None, Query(max_length=4096)] = None,
         group: Annotated[str | None, Query(max_length=255)] = None,
         offset: Annotated[int, Query(ge=0)] = 0,
         only: Annotated[NodeFilter | None, Query(alias="filter")] = None,
         failed: bool = False) -> HTMLResponse:
    """A page of the node tree: top-level nodes, the children of ``parent`` (a node id,
    then ``/key`` per level of children), or the nodes of the sub-workflow ``group``;
    ``filter``: a quick filter, of which ``failed=true`` is the older spelling."""
    ident = ExecutionId(project, domain, name)
    only = "failed" if failed else only
    page = (store.child_page(ident, parent, offset, PAGE, only) if parent
            else store.node_page(ident, offset, PAGE, only, group))
    return render(request, "_node_rows.html", page=page, parent=parent or group,
                  depth=_depth(parent, group), filter=only, now=time.time(),
                  query=f"parent={quote(parent)}" if parent else
                  f"group={quote(group)}" if group else "")


def _depth(parent: str | None, group: str | None) -> int:
    """How deep the rows of a level sit (as ``NodeSummary.depth``): one below the row
    they were expanded from."""
    if parent:
        return parent.partition("/")[0].count("-") + parent.count("/") + 1
    return group.count("-") + 1 if group else 0


@router.get("/api/executions/{project}/{domain}/{name}/graph")
def execution_graph(project: str, domain: str, name: str, store: Store) -> Response:
    """The geometry of the execution's workflow, with what its nodes ran inside them."""
    record = store.get_execution(ExecutionId(project, domain, name))
    spec = workflow_spec(store, record)
    if spec is None:
        return _json({"nodes": [], "edges": [], "width": 0, "height": 0})
    key = record.workflow or record.task
    assert key is not None
    geometry = workflow_geometry(key, lambda: spec)
    counts = store.children_counts(record.id)
    return _json(with_children(geometry, counts, _dynamic_kinds(spec, geometry, counts))
                 .to_json())


def _dynamic_kinds(spec: WorkflowSpec, geometry: Geometry,
                   counts: dict[str, int]) -> dict[str, str]:
    """A task node that ran children is a dynamic node (the spec cannot tell)."""
    index = geometry.index()
    return {n: "dynamic" for n in counts
            if n in index and geometry.boxes[index[n]].kind == "task"}


@router.get("/api/workflows/{project}/{domain}/{name}/{version}/graph")
def workflow_graph(project: str, domain: str, name: str, version: str,
                   store: Store) -> Response:
    """The geometry of a registered workflow version (never changes: cached)."""
    ident = Identifier(ResourceType.WORKFLOW, project, domain, name, version)
    geometry = workflow_geometry(ident, lambda: WorkflowSpec.from_dict(store.get(ident).spec))
    return _json(geometry.to_json(), cache="public, max-age=86400, immutable")


@router.get("/api/executions/{project}/{domain}/{name}/timeline")
def execution_timeline(project: str, domain: str, name: str, store: Store) -> Response:
    """One bar per attempt, offsets from the execution's start (see ``timeline``)."""
    ident = ExecutionId(project, domain, name)
    record = store.get_execution(ident)
    bars = timeline(store.attempt_times(ident),
                    record.started_at.timestamp() if record.started_at else None,
                    record.ended_at.timestamp() if record.ended_at else None, time.time())
    return _json(bars.to_json())


def _json(data: dict[str, Any], cache: str = "no-store") -> Response:
    return Response(json.dumps(data, separators=(",", ":")), media_type="application/json",
                    headers={"Cache-Control": cache})


@router.get(BASE + "/events")
async def events(request: Request, project: str, domain: str, name: str,
                 store: Store, since: Annotated[int, Query(ge=0)] = 0) -> StreamingResponse:
    """The change feed as server-sent events: ``id:`` the seq, data the API's changes
    JSON; ``event: done`` once the execution ended and everything was sent. A browser
    reconnecting sends ``Last-Event-ID`` and resumes there."""
    ident = ExecutionId(project, domain, name)
    await run_in_threadpool(store.get_execution, ident)  # 404 before the stream starts
    resume = request.headers.get("last-event-id", "")
    cursor = int(resume) if resume.isdigit() else since
    return StreamingResponse(_stream(request, store, ident, cursor),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def _stream(request: Request, store: AdminStore, ident: ExecutionId,
                  cursor: int) -> AsyncIterator[str]:
    first = True
    beat = time.monotonic()
    while not await request.is_disconnected():
        changes = await run_in_threadpool(store.execution_changes, ident, cursor, 5000)
        if first or changes.seq > cursor:
            first = False
            cursor = changes.seq
            beat = time.monotonic()
            yield f"id: {cursor}\ndata: {ExecutionChangesModel.of(changes).model_dump_json()}\n\n"
        if changes.terminal:
            yield "event: done\ndata: {}\n\n"
            return
        if changes.more:
            continue
        if time.monotonic() - beat > HEARTBEAT_S:
            beat = time.monotonic()
            yield ": heartbeat\n\n"
        await asyncio.sleep(POLL_S)

