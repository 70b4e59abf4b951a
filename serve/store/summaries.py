"""Read-only summaries for the console: execution counts by phase, the latest version of
each name, the launch plans of a workflow, and the entity filters of an execution
listing.

Each function takes a session and runs inside the caller's transaction;
``serve.store.admin`` binds the public ones as ``AdminStore`` methods of the same name.
Each is one query, whatever the number of rows it summarises: a page of the console
never costs a query per row.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.dag.run.state import ExecutionPhase
from engine.dag.spec import ResourceType
from serve.store._models import ExecutionRow, LaunchPlanRow, TaskRow, WorkflowRow
from serve.store.entities import ROWS, AnyRow, entity_of, launch_plan_of
from serve.store.identifiers import check_part
from serve.store.records import Entity, LaunchPlanEntity

# (project, domain) -> phase -> executions created in the window.
PhaseCounts = dict[tuple[str, str], dict[ExecutionPhase, int]]


def execution_counts(s: Session, since: dt.datetime) -> PhaseCounts:
    """How many executions of each project and domain were created after ``since``, by
    phase (one grouped query; pairs without executions are absent)."""

    rows = s.execute(select(ExecutionRow.project, ExecutionRow.domain, ExecutionRow.phase,
                            func.count()).where(ExecutionRow.created_at > since)
                     .group_by(ExecutionRow.project, ExecutionRow.domain, ExecutionRow.phase))
    counts: PhaseCounts = {}
    for project, domain, phase, count in rows:
        counts.setdefault((project, domain), {})[ExecutionPhase(phase)] = count
    return counts


def latest_versions(s: Session, kind: ResourceType, project: str, domain: str,
                    names: list[str]) -> dict[str, Entity]:
    """The most recently registered version of each of ``names`` (one query)."""
    if not names:
        return {}
    table = ROWS[kind]
    newest = select(func.max(table.pk)).where(
        table.project == project, table.domain == domain,
        table.name.in_([check_part("name", n) for n in names])).group_by(table.name)
    rows = cast("list[AnyRow]", s.scalars(select(table).where(
        table.pk.in_(newest.scalar_subquery()))).all())
    return {row.name: entity_of(row) for row in rows}


def workflow_launch_plans(s: Session, project: str, domain: str,
                          workflow: str) -> list[LaunchPlanEntity]:
    """Every launch plan version of any version of the workflow named ``workflow``, by
    name, newest version first (one query)."""

    rows = s.scalars(select(LaunchPlanRow).join(
        WorkflowRow, WorkflowRow.pk == LaunchPlanRow.workflow_pk).where(
        WorkflowRow.project == project, WorkflowRow.domain == domain,
        WorkflowRow.name == check_part("name", workflow))
        .order_by(LaunchPlanRow.name, LaunchPlanRow.pk.desc())).all()
    return [launch_plan_of(row) for row in rows]


def where_entity(query: Any, workflow: str | None, version: str | None) -> Any:
    """``query`` (over executions) narrowed to those running the workflow named
    ``workflow`` and/or the version ``version`` (of the workflow it runs, or of the task
    it runs alone)."""

    if workflow is None and version is None:
        return query
    query = query.outerjoin(WorkflowRow, WorkflowRow.pk == ExecutionRow.workflow_pk)
    if workflow is not None:
        query = query.where(WorkflowRow.name == check_part("name", workflow))
    if version is not None:
        query = query.outerjoin(TaskRow, TaskRow.pk == ExecutionRow.task_pk).where(
            func.coalesce(WorkflowRow.version, TaskRow.version) == check_part("version",
                                                                              version))
    return query
