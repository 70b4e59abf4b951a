"""Console pages of registered workflows, tasks and launch plans: a list of names per kind
(name search, latest version; for launch plans the active version and its schedule) and a
page per version (versions, typed interface, static graph, launch plans with their
state, schedule with its next fire times, recent executions, Launch).

Paths name the kind literally (``workflow``, ``task``, ``launch_plan``), so they never
shadow ``executions/{name}``. Every page costs a fixed number of queries, whatever the
number of rows it shows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from engine.dag.spec import Identifier, Interface, LaunchPlanSpec, ResourceType
from serve.api.deps import Store
from serve.console.page_errors import error_page
from serve.console.templating import render
from serve.control.scheduler import Clock, next_fire_times
from serve.errors import AdminError, NotFoundError
from serve.store import AdminStore, Entity, LaunchPlanEntity, ListOptions
from serve.store.execution_records import Execution, ExecutionFilters
from serve.store.schedule_records import ScheduledPlan

router = APIRouter()
PAGE_SIZE = 50
RECENT = 10
NEXT_TIMES = 3
# URL segment of a list -> (kind, the detail pages' segment, a label).
LISTS = {"workflows": (ResourceType.WORKFLOW, "workflow", "Workflows"),
         "tasks": (ResourceType.TASK, "task", "Tasks"),
         "launch_plans": (ResourceType.LAUNCH_PLAN, "launch_plan", "Launch plans")}
_BASE = "/projects/{project}/domains/{domain}"
Text = Annotated[str, Query(max_length=512)]


@dataclass(frozen=True)
class Schedules:
    """The active schedules of a domain by launch plan name, with next fire times."""

    plans: dict[str, ScheduledPlan]
    next_times: dict[str, list[dt.datetime]]

    @classmethod
    def of(cls, store: AdminStore, clock: Clock, project: str, domain: str,
           name: str | None = None) -> Schedules:
        page = store.list_schedules(project, domain, ListOptions(limit=1000, name=name))
        now = clock()
        return cls({p.id.name: p for p in page.items},
                   {p.id.name: next_fire_times(p, now, NEXT_TIMES) for p in page.items})


def _list_page(segment: str) -> Callable[..., HTMLResponse]:
    kind, detail, label = LISTS[segment]

    def names(request: Request, project: str, domain: str, store: Store, q: Text = "",
              token: Annotated[str, Query(max_length=2048)] = "") -> HTMLResponse:
        try:
            page = store.list_names(kind, project, domain, ListOptions(
                limit=PAGE_SIZE, token=token, name_contains=q or None))
            names = [n.name for n in page.items]
            latest = store.latest_versions(kind, project, domain, names)
            active: dict[str, Entity] = {}
            schedules = None
            if kind is ResourceType.LAUNCH_PLAN:
                active = {e.id.name: e for e in store.active_launch_plans(
                    project, domain, ListOptions(limit=1000)).items}
                schedules = Schedules.of(store, request.app.state.clock, project, domain)
        except AdminError as e:
            return error_page(request, e, f"list the {label.lower()} of {project}/{domain}")
        return render(request, "entities.html", project=project, domain=domain,
                      segment=segment, detail=detail, label=label, names=names,
                      latest=latest, active=active, schedules=schedules, q=q,
                      next_token=page.token, first_page=not token)

    names.__name__ = f"list_{segment}"
    return names


for _segment in LISTS:
    router.add_api_route(f"{_BASE}/{_segment}", _list_page(_segment), methods=["GET"],
                         response_class=HTMLResponse)


def _detail_page(segment: str) -> Callable[..., HTMLResponse]:
    kind, detail, label = LISTS[segment]

    def page(request: Request, project: str, domain: str, name: str, store: Store,
             version: str | None = None) -> HTMLResponse:
        try:
            context = _detail(request, store, kind, project, domain, name, version)
        except AdminError as e:
            return error_page(request, e, f"show {detail.replace('_', ' ')} {name}")
        return render(request, "entity.html", project=project, domain=domain,
                      segment=segment, detail=detail, label=label, **context)

    page.__name__ = f"show_{detail}"
    return page


for _segment, (_kind, _detail_segment, _label) in LISTS.items():
    for _path in (f"{_BASE}/{_detail_segment}/{{name}}",
                  f"{_BASE}/{_detail_segment}/{{name}}/version/{{version}}"):
        router.add_api_route(_path, _detail_page(_segment), methods=["GET"],
                             response_class=HTMLResponse)


def _detail(request: Request, store: AdminStore, kind: ResourceType, project: str,
            domain: str, name: str, version: str | None) -> dict[str, Any]:
    """What a version's page shows (a fixed number of queries)."""
    versions = store.list_entities(kind, project, domain,
                                   ListOptions(limit=PAGE_SIZE, name=name)).items
    if not versions:
        raise NotFoundError(f"{kind.value.replace('_', ' ')} {project}/{domain}/{name} is not "
                            "registered")
    entity = (store.get(Identifier(kind, project, domain, name, version))
              if version is not None else versions[0])
    context: dict[str, Any] = {"entity_name": name, "entity": entity, "versions": versions,
                               "spec": entity.spec, "plans": [], "schedule": None,
                               "next_times": [], "plan": None, "workflow_id": None}
    if kind is ResourceType.TASK:
        context["interface"] = Interface.from_dict(entity.spec["interface"])
        context["recent"] = []
        return context
    if kind is ResourceType.WORKFLOW:
        context["interface"] = Interface.from_dict(entity.spec["interface"])
        context["plans"] = store.workflow_launch_plans(project, domain, name)
        context["recent"] = _recent(store, project, domain, ExecutionFilters(workflow=name))
        context["workflow_id"] = entity.id
    else:
        plan = LaunchPlanSpec.from_dict(entity.spec)
        workflow = store.get(plan.workflow_id)
        context["interface"] = Interface.from_dict(workflow.spec["interface"])
        context["plan"] = plan
        context["workflow_id"] = plan.workflow_id
        context["recent"] = _recent(store, project, domain, ExecutionFilters(launch_plan=name))
        schedules = Schedules.of(store, request.app.state.clock, project, domain, name)
        context["schedule"] = schedules.plans.get(name)
        context["next_times"] = schedules.next_times.get(name, [])
        context["plans"] = [v for v in versions if isinstance(v, LaunchPlanEntity)]
    return context


def _recent(store: AdminStore, project: str, domain: str,
            filters: ExecutionFilters) -> list[Execution]:
    return store.list_executions(project, domain, filters, ListOptions(limit=RECENT)).items

