"""Drivers of executions: launch slots, claims, fencing, heartbeats, restarts.

An execution is *launched* (``launch`` > 0) when the admin starts a driver for it, at
once or, under a launch plan's ``max_parallel_executions``, when a slot frees. A driver
process *claims* it, which moves the ``incarnation`` on: only the latest incarnation
may write, so a driver that was replaced (or that outlived its execution) is refused.
Every time here is the database's.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.dag.state import ExecutionPhase, NodePhase
from serve.errors import DriverFencedError
from serve.store import _executions
from serve.store._clock import db_now
from serve.store._models import (
    ExecutionRow,
    LaunchPlanRow,
    NodeAttemptRow,
    NodeExecutionRow,
    TaskRow,
    WorkflowRow,
)
from serve.store.execution_records import (
    ACTIVE_PHASES,
    DriverClaim,
    DriverLease,
    ErrorInfo,
    ExecutionId,
    LaunchTicket,
)

_ACTIVE = [p.value for p in ACTIVE_PHASES]
_DONE = [NodePhase.SUCCEEDED.value, NodePhase.RECOVERED.value]


def _ticket(row: ExecutionRow) -> LaunchTicket:
    return LaunchTicket(_executions.id_of(row), row.launch, row.code_uri)


def _launch(s: Session, row: ExecutionRow, now: dt.datetime) -> LaunchTicket:
    row.launch += 1
    row.launched_at = now
    row.heartbeat_at = None
    return _ticket(row)


# --- launching ----------------------------------------------------------------------------


def start(s: Session, row: ExecutionRow) -> list[LaunchTicket]:
    """Drivers to start now that ``row`` is created: its own, unless its launch plan's
    slots are taken (then it waits QUEUED; older waiting executions go first)."""
    if row.launch_plan_pk is not None:
        return claim_slots(s, row.launch_plan_pk)
    return [_launch(s, row, db_now(s))]


def claim_slots(s: Session, plan_pk: int) -> list[LaunchTicket]:
    """Launch the oldest waiting executions of a launch plan version, as many as its
    ``max_parallel_executions`` leaves room for (all without a limit). The plan's row is
    locked, so two admins never hand out the same slot."""
    plan = s.scalar(select(LaunchPlanRow).where(LaunchPlanRow.pk == plan_pk)
                    .with_for_update())
    assert plan is not None  # a foreign key
    query = select(ExecutionRow).where(
        ExecutionRow.launch_plan_pk == plan_pk, ExecutionRow.launch == 0,
        ExecutionRow.phase == ExecutionPhase.QUEUED.value,
    ).order_by(ExecutionRow.created_at, ExecutionRow.pk)
    if plan.max_parallel_executions is not None:
        running = s.scalar(select(func.count()).select_from(ExecutionRow).where(
            ExecutionRow.launch_plan_pk == plan_pk, ExecutionRow.launch > 0,
            ExecutionRow.phase.in_(_ACTIVE))) or 0
        free = plan.max_parallel_executions - running
        if free <= 0:
            return []
        query = query.limit(free)
    now = db_now(s)
    return [_launch(s, row, now) for row in s.scalars(query).all()]


def waiting_plans(s: Session) -> list[int]:
    """Launch plan versions with executions waiting for a slot."""
    pks = s.scalars(select(ExecutionRow.launch_plan_pk).where(
        ExecutionRow.launch == 0, ExecutionRow.phase == ExecutionPhase.QUEUED.value,
        ExecutionRow.launch_plan_pk.is_not(None)).distinct()).all()
    return [pk for pk in pks if pk is not None]


# --- the driver ---------------------------------------------------------------------------


def claim(s: Session, ident: ExecutionId, launch: int) -> DriverClaim | None:
    """Claim the execution for a driver process of ``launch``; None when it has ended or
    another launch replaced this one (the driver then exits)."""
    row = _executions.get_row(s, ident, lock=True)
    if ExecutionPhase(row.phase) not in ACTIVE_PHASES or row.launch != launch:
        return None
    row.incarnation += 1
    row.heartbeat_at = db_now(s)
    s.flush()
    workflow = s.get(WorkflowRow, row.workflow_pk) if row.workflow_pk else None
    task = s.get(TaskRow, row.task_pk) if row.task_pk else None
    source = s.get(ExecutionRow, row.recovered_from_pk) if row.recovered_from_pk else None
    done = _succeeded_outputs(s, row.pk)
    offered = _succeeded_outputs(s, source.pk) if source is not None else {}
    attempts = dict(s.execute(select(NodeAttemptRow.node_id, func.max(NodeAttemptRow.attempt))
                              .where(NodeAttemptRow.execution_pk == row.pk)
                              .group_by(NodeAttemptRow.node_id)).all())
    return DriverClaim(
        _executions.record_of(s, row), row.incarnation,
        json.loads(workflow.spec) if workflow else None, json.loads(task.spec) if task else None,
        done, {k: v for k, v in offered.items() if k not in done}, attempts)


def _succeeded_outputs(s: Session, execution_pk: int) -> dict[str, dict[str, Any]]:
    rows = s.execute(select(NodeExecutionRow.node_id, NodeExecutionRow.outputs).where(
        NodeExecutionRow.execution_pk == execution_pk, NodeExecutionRow.phase.in_(_DONE),
        NodeExecutionRow.outputs.is_not(None))).all()
    return {node_id: json.loads(outputs) for node_id, outputs in rows if outputs is not None}


def fenced(s: Session, ident: ExecutionId, incarnation: int) -> ExecutionRow:
    """The execution's row, locked, when ``incarnation`` may still write to it."""
    row = _executions.get_row(s, ident, lock=True)
    if row.incarnation != incarnation:
        raise DriverFencedError(f"execution {ident}: driver incarnation {incarnation} was "
                                f"superseded (now {row.incarnation})")
    if ExecutionPhase(row.phase) not in ACTIVE_PHASES:
        raise DriverFencedError(f"execution {ident} already ended {row.phase}")
    return row


def heartbeat(s: Session, ident: ExecutionId, incarnation: int) -> str | None:
    """Record that the driver lives; returns the abort cause once a stop was requested."""
    row = fenced(s, ident, incarnation)
    row.heartbeat_at = db_now(s)
    return row.abort_cause


def finish(s: Session, ident: ExecutionId, incarnation: int, phase: ExecutionPhase,
           error: ErrorInfo | None, outputs: dict[str, Any] | None) -> None:
    row = fenced(s, ident, incarnation)
    if phase is ExecutionPhase.ABORTED:  # not an error: its cause is the abort cause
        if row.abort_cause is None and error is not None:
            row.abort_cause = error.message
        error = None
    _executions.end(s, row, phase, error, outputs)


# --- the supervisor -----------------------------------------------------------------------


def leases(s: Session) -> list[DriverLease]:
    """Every launched execution that has not ended, with its driver's liveness."""
    now = db_now(s)
    rows = s.scalars(select(ExecutionRow).where(ExecutionRow.launch > 0,
                                                ExecutionRow.phase.in_(_ACTIVE))).all()
    return [DriverLease(_executions.id_of(r), r.launch, _aware(r.launched_at),
                        _aware(r.heartbeat_at), now) for r in rows]


def restart(s: Session, ident: ExecutionId, launch: int, max_restarts: int,
            reason: str) -> LaunchTicket | None:
    """Replace the lost driver of ``launch``: a new launch, or, past ``max_restarts``
    (or when a stop was asked for), the execution ends here. None when nothing is to
    start (it ended meanwhile, or someone else already replaced the driver)."""
    row = _executions.get_row(s, ident, lock=True)
    if ExecutionPhase(row.phase) not in ACTIVE_PHASES or row.launch != launch:
        return None
    if row.abort_cause is not None:
        _executions.end(s, row, ExecutionPhase.ABORTED)
        return None
    if row.driver_restarts >= max_restarts:
        bundle = f" and its code bundle {row.code_uri}" if row.code_uri else ""
        _executions.end(s, row, ExecutionPhase.FAILED, ErrorInfo(
            "SYSTEM", f"the execution's driver was lost ({reason}) and had been restarted "
                      f"{row.driver_restarts} time(s) already; giving up (the Ray cluster's "
                      f"logs{bundle} may tell why it died or could not start)"))
        return None
    row.driver_restarts += 1
    return _launch(s, row, db_now(s))


def force_abort(s: Session, ident: ExecutionId) -> None:
    """End a terminated execution whose driver did not confirm that it stopped."""
    row = _executions.get_row(s, ident, lock=True)
    if ExecutionPhase(row.phase) in ACTIVE_PHASES:
        _executions.end(s, row, ExecutionPhase.ABORTED)


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    return moment if moment is None or moment.tzinfo else moment.replace(
        tzinfo=dt.timezone.utc)
