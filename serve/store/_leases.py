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

from engine.dag.run.state import ExecutionPhase, NodePhase
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


def dispatch(s: Session, max_starting: int | None) -> list[LaunchTicket]:
    """Launch waiting executions, oldest first: each needs a free slot of its launch plan
    (``max_parallel_executions``), and no more than ``max_starting`` drivers may be starting
    (launched, not yet claimed) at once (None: no bound). A burst of executions so starts
    a few processes at a time instead of all at once, which would starve the machine and
    the API with it. Rows are locked (PostgreSQL skips those another admin is launching;
    SQLite serializes writers), so two admins never launch one execution twice."""
    now = db_now(s)
    room = None if max_starting is None else max_starting - _starting(s)
    if room is not None and room <= 0:
        return []
    waiting = s.scalars(select(ExecutionRow).where(
        ExecutionRow.launch == 0, ExecutionRow.phase == ExecutionPhase.QUEUED.value,
    ).order_by(ExecutionRow.created_at, ExecutionRow.pk).with_for_update(skip_locked=True))
    tickets: list[LaunchTicket] = []
    free: dict[int, int | None] = {}  # launch plan version -> slots left (None: no limit)
    for row in waiting:
        if room is not None and len(tickets) >= room:
            break
        plan = row.launch_plan_pk
        if plan is not None:
            if plan not in free:
                free[plan] = _free_slots(s, plan)
            slots = free[plan]
            if slots is not None:
                if slots <= 0:
                    continue
                free[plan] = slots - 1
        tickets.append(_launch(s, row, now))
    return tickets


def waiting(s: Session) -> bool:
    """Whether any execution waits to be launched."""
    return s.scalar(select(ExecutionRow.pk).where(
        ExecutionRow.launch == 0, ExecutionRow.phase == ExecutionPhase.QUEUED.value,
    ).limit(1)) is not None


def _starting(s: Session) -> int:
    """Drivers launched that have not claimed their execution yet."""
    return s.scalar(select(func.count()).select_from(ExecutionRow).where(
        ExecutionRow.launch > 0, ExecutionRow.phase.in_(_ACTIVE),
        ExecutionRow.heartbeat_at.is_(None))) or 0


def _free_slots(s: Session, plan_pk: int) -> int | None:
    """Slots a launch plan version has left (None: no limit). Its row is locked, so two
    admins never hand out the same slot."""
    plan = s.scalar(select(LaunchPlanRow).where(LaunchPlanRow.pk == plan_pk)
                    .with_for_update())
    assert plan is not None  # a foreign key
    if plan.max_parallel_executions is None:
        return None
    running = s.scalar(select(func.count()).select_from(ExecutionRow).where(
        ExecutionRow.launch_plan_pk == plan_pk, ExecutionRow.launch > 0,
        ExecutionRow.phase.in_(_ACTIVE))) or 0
    return plan.max_parallel_executions - running


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
        done, {k: v for k, v in offered.items() if k not in done}, attempts,
        _aware(row.heartbeat_at))


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
