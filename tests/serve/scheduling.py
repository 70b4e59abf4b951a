"""Helpers of the schedule tests: a scheduler over a store (its launcher only records)
on a clock the test drives, and scheduled launch plans of ``tests.fixtures.schedule_wfs``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from engine.config import Settings
from engine.dag.spec import Identifier, ResourceType, Schedule
from serve.control.executions import ExecutionService
from serve.control.launching import Liveness
from serve.control.scheduler import Scheduler
from serve.store import AdminStore
from serve.store.execution_records import Execution, ExecutionMode
from tests.fixtures import schedule_wfs
from tests.serve.remote import RecordingLauncher

PROJECT, DOMAIN = "flytesnacks", "development"
UTC = dt.timezone.utc
T0 = dt.datetime(2030, 1, 1, 10, 0, tzinfo=UTC)
HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)


class Now:
    """A clock the test sets."""

    def __init__(self, moment: dt.datetime) -> None:
        self.moment = moment

    def __call__(self) -> dt.datetime:
        return self.moment


def scheduler(store: AdminStore, home: Path, **options: Any) -> Scheduler:
    """A scheduler whose passes the test runs (``tick(now)``); no thread."""
    service = ExecutionService(store, RecordingLauncher(), Settings(home=home), Liveness())
    return Scheduler(service, **options)


def register_stamped(store: AdminStore) -> Identifier:
    """Register the workflow ``stamped(kickoff_time: datetime, label: str = "tick")``."""
    spec = schedule_wfs.stamped.compile().spec
    for task in spec.tasks.values():
        store.register_task(task)
    store.register_workflow(spec)
    return spec.id


def plan(store: AdminStore, workflow: Identifier, schedule: Schedule, name: str = "stamps",
         version: str = "v1", activate: bool = True, **spec: Any) -> Identifier:
    """Register (and activate) a launch plan of ``workflow`` with ``schedule``."""
    ident = Identifier(ResourceType.LAUNCH_PLAN, workflow.project, workflow.domain, name,
                       version)
    store.register_launch_plan({"id": ident.to_dict(), "workflow_id": workflow.to_dict(),
                                "schedule": schedule.to_dict(), **spec})
    if activate:
        store.set_launch_plan_state(ident, "ACTIVE")
    return ident


def scheduled(store: AdminStore, name: str = "stamps") -> list[Execution]:
    """The SCHEDULED executions of a launch plan name, oldest tick first."""
    page = store.list_executions(PROJECT, DOMAIN)
    found = [e for e in page.items if e.mode is ExecutionMode.SCHEDULED
             and e.launch_plan is not None and e.launch_plan.name == name]
    return sorted(found, key=lambda e: e.scheduled_at or T0)


def ticks(store: AdminStore, name: str = "stamps") -> list[dt.datetime | None]:
    """The scheduled times fired for a launch plan name, in order."""
    return [e.scheduled_at for e in scheduled(store, name)]
