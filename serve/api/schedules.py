"""Active schedules, with their next fire times and last execution:
``GET /api/v1/schedules/{project}/{domain}[/{name}]``.

A schedule is part of a launch plan version's spec; it fires while that version is
ACTIVE (``PUT /api/v1/launch_plans/...`` with ``{"state": ...}``). Times are UTC, from
the scheduler's clock.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from serve.api.deps import SCHEDULES, Store
from serve.api.errors import ERROR_RESPONSES
from serve.api.params import DomainId, Name, ProjectId
from serve.api.schedule_schemas import ScheduleList, ScheduleModel
from serve.control.scheduler import Clock, next_fire_times
from serve.errors import NotFoundError
from serve.store import ListOptions
from serve.store.schedule_records import ScheduledPlan

router = APIRouter(prefix="/schedules", tags=["schedules"], responses=ERROR_RESPONSES)

Count = Annotated[int, Query(ge=1, le=100, description="How many next fire times to show.")]


def _model(request: Request, plan: ScheduledPlan, count: int) -> ScheduleModel:
    clock: Clock = request.app.state.clock
    return ScheduleModel.of(plan, next_fire_times(plan, clock(), count))


@router.get("/{project}/{domain}", response_model=ScheduleList,
            summary="List the active schedules of a project and domain, by launch plan name")
def list_schedules(project: ProjectId, domain: DomainId, request: Request, store: Store,
                   options: Annotated[ListOptions, Depends(SCHEDULES)],
                   count: Count = 3) -> ScheduleList:
    page = store.list_schedules(project, domain, options)
    return ScheduleList(schedules=[_model(request, p, count) for p in page.items],
                        token=page.token)


@router.get("/{project}/{domain}/{name}", response_model=ScheduleModel,
            summary="Get the active schedule of a launch plan")
def get_schedule(project: ProjectId, domain: DomainId, name: Name, request: Request, store: Store,
                 count: Count = 3) -> ScheduleModel:
    page = store.list_schedules(project, domain, ListOptions(limit=1, name=name))
    if not page.items:
        raise NotFoundError(f"launch plan {project}/{domain}/{name} has no active version "
                            "with a schedule")
    return _model(request, page.items[0], count)
