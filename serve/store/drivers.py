"""Drivers of executions: claims, fencing, heartbeats and the end, for the driver; the
drivers' liveness and their restarts, for the supervisor.

Each function takes a session and runs inside the caller's transaction;
``serve.store.admin`` binds the public ones as ``AdminStore`` methods of the same name.
A launched execution (``serve.store.executions``) is *claimed* by a driver process,
which moves the ``incarnation`` on: only the latest incarnation may write, so a driver
that was replaced (or that outlived its execution) is refused (:func:`fenced`). Every
time here is the database's.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.dag.run.state import ExecutionPhase, NodePhase
from serve.errors import DriverFencedError
from serve.store import executions
from serve.store._models import (
    ExecutionRow,
    NodeAttemptRow,
    NodeExecutionRow,
    TaskRow,
    WorkflowRow,
)
from serve.store.database import aware, db_now
from serve.store.execution_records import (
    ACTIVE_PHASES,
    DriverClaim,
    DriverLease,
    ErrorInfo,
    ExecutionId,
    LaunchTicket,
)

_DONE = [NodePhase.SUCCEEDED.value, NodePhase.RECOVERED.value]


# --- the driver ---------------------------------------------------------------------------


def claim_driver(s: Session, ident: ExecutionId, launch: int) -> DriverClaim | None:
    """Claim the execution for a driver process of ``launch``; None when it has ended or
    another launch replaced this one (the driver then exits)."""
    row = executions.get_row(s, ident, lock=True)
    if ExecutionPhase(row.phase) not in ACTIVE_PHASES or row.launch != launch:
        return None
    row.incarnation += 1
    row.heartbeat_at = claimed_at = db_now(s)
    _end_lost_attempts(s, row, claimed_at.timestamp())
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
        executions.record_of(s, row), row.incarnation,
        json.loads(workflow.spec) if workflow else None, json.loads(task.spec) if task else None,
        done, {k: v for k, v in offered.items() if k not in done}, attempts, claimed_at)


def _end_lost_attempts(s: Session, row: ExecutionRow, now: float) -> None:
    """End the attempts an earlier driver left open: they were lost with it (its
    executor died, or it was replaced), and no event of theirs can come any more (that
    driver is fenced out), so each is a SYSTEM failure; the node runs again as a new
    attempt, numbered after them. Without this they would stay open forever."""
    lost = s.scalars(select(NodeAttemptRow).where(
        NodeAttemptRow.execution_pk == row.pk, NodeAttemptRow.outcome.is_(None))).all()
    for attempt in lost:
        attempt.ended_at = max(attempt.started_at, now)
        attempt.outcome = NodePhase.FAILED.value
        attempt.error_kind = "SYSTEM"
        attempt.error_message = (
            "an earlier driver of its execution was lost while this attempt ran, and its "
            "outcome with it; the node runs again")
        attempt.seq = row.take_seq()


def _succeeded_outputs(s: Session, execution_pk: int) -> dict[str, dict[str, Any]]:
    rows = s.execute(select(NodeExecutionRow.node_id, NodeExecutionRow.outputs).where(
        NodeExecutionRow.execution_pk == execution_pk, NodeExecutionRow.phase.in_(_DONE),
        NodeExecutionRow.outputs.is_not(None))).all()
    return {node_id: json.loads(outputs) for node_id, outputs in rows if outputs is not None}


def fenced(s: Session, ident: ExecutionId, incarnation: int) -> ExecutionRow:
    """The execution's row, locked, when ``incarnation`` may still write to it."""
    row = executions.get_row(s, ident, lock=True)
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


def finish_execution(s: Session, ident: ExecutionId, incarnation: int, phase: ExecutionPhase,
                     error: ErrorInfo | None = None,
                     outputs: dict[str, Any] | None = None) -> None:
    """End the execution as its driver reports it; an ABORTED end takes the error's
    message as its abort cause when no stop was asked for."""
    row = fenced(s, ident, incarnation)
    if phase is ExecutionPhase.ABORTED:  # not an error: its cause is the abort cause
        if row.abort_cause is None and error is not None:
            row.abort_cause = error.message
        error = None
    executions.end(s, row, phase, error, outputs)


def release_driver(s: Session, ident: ExecutionId, incarnation: int) -> None:
    """Hand the execution back without ending it: its executor is draining (the cluster
    is about to stop). The driver is fenced out, and the execution waits, RUNNING, for
    the next launch, which resumes it and is not counted as a restart (a released
    execution is one launched with no ``launched_at``)."""
    row = fenced(s, ident, incarnation)
    row.incarnation += 1
    row.launched_at = None
    row.heartbeat_at = None


# --- the supervisor -----------------------------------------------------------------------


def driver_leases(s: Session) -> list[DriverLease]:
    """Every launched execution that has not ended, with its driver's liveness."""
    now = db_now(s)
    rows = s.scalars(select(ExecutionRow).where(
        ExecutionRow.launch > 0, ExecutionRow.phase.in_(executions.ACTIVE))).all()
    return [DriverLease(executions.id_of(r), r.launch, _aware(r.launched_at),
                        _aware(r.heartbeat_at), now) for r in rows]


def restart_driver(s: Session, ident: ExecutionId, launch: int, max_restarts: int,
                   reason: str) -> LaunchTicket | None:
    """Replace the lost driver of ``launch``: a new launch, or, past ``max_restarts``
    (or when a stop was asked for), the execution ends here. None when nothing is to
    start (it ended meanwhile, or someone else already replaced the driver)."""
    row = executions.get_row(s, ident, lock=True)
    if ExecutionPhase(row.phase) not in ACTIVE_PHASES or row.launch != launch:
        return None
    if row.abort_cause is not None:
        executions.end(s, row, ExecutionPhase.ABORTED)
        return None
    if row.launched_at is None:  # released by a draining executor: not a loss
        return executions.launch(row, db_now(s))
    if row.driver_restarts >= max_restarts:
        bundle = f" and its code bundle {row.code_uri}" if row.code_uri else ""
        executions.end(s, row, ExecutionPhase.FAILED, ErrorInfo(
            "SYSTEM", f"the execution's driver was lost ({reason}) and had been restarted "
                      f"{row.driver_restarts} time(s) already; giving up (the Ray cluster's "
                      f"logs{bundle} may tell why it died or could not start)"))
        return None
    row.driver_restarts += 1
    # The lost driver may still run (its heartbeat stale, its executor silent): fenced
    # out now, not once the new one claims, so that it cannot end the execution (ABORTED,
    # as told to stop) while its replacement starts.
    row.incarnation += 1
    return executions.launch(row, db_now(s))


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    return aware(moment) if moment is not None else None
