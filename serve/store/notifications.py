"""Notifications of ended executions: an outbox filled when an execution ends, worked off
by the admin's notifier (``serve.control.notifier``), read through the API.

Each function takes a session and runs inside the caller's transaction;
``serve.store.admin`` binds the public ones as ``AdminStore`` methods of the same name.
:func:`add_for_end` runs in the transaction that ends the execution
(``serve.store.executions.end``), so an execution never ends without its notifications
recorded, and they are sent at least once: a claim (:func:`claim_notifications`) leases
a row by moving its ``next_attempt_at`` on, and a row whose sender died is claimed again
when the lease passes. Every time here is the database's.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.dag.run.state import ExecutionPhase
from engine.dag.spec.notification import NotificationSpec, notifications_from_list
from engine.errors import SpecError
from serve.errors import NotFoundError
from serve.store._models import ExecutionRow, LaunchPlanRow, NotificationRow
from serve.store.database import aware, db_now
from serve.store.execution_records import ExecutionId
from serve.store.identifiers import check_part
from serve.store.projects import require_domain

log = logging.getLogger(__name__)
# Longest error text a summary keeps (the execution's own record has all of it).
_MAX_MESSAGE = 4000


class DeliveryStatus(str, Enum):
    PENDING = "PENDING"  # to send, or being sent
    SENT = "SENT"
    FAILED = "FAILED"  # given up: permanent error, or out of attempts


@dataclass(frozen=True)
class Delivery:
    """One notification of an ended execution, and where its delivery stands."""

    # Opaque key the notifier records an attempt against.
    key: int
    execution: ExecutionId
    # Its place in the launch plan's list of notifications.
    position: int
    notification: NotificationSpec
    # The terminal phase the execution ended in.
    phase: ExecutionPhase
    # The execution as it ended: ids, phase, times, duration, error (JSON).
    summary: dict[str, Any]
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    created_at: dt.datetime
    attempted_at: dt.datetime | None
    sent_at: dt.datetime | None
    # PENDING: when the next attempt is due (or a running one's lease ends); else None.
    next_attempt_at: dt.datetime | None


def add_for_end(s: Session, row: ExecutionRow, phase: ExecutionPhase) -> None:
    """Record the notifications that ``row`` ending ``phase`` fires: those of its launch
    plan whose phases hold ``phase`` (a task run alone has none). Called as the execution
    ends, after its end fields are set."""
    if row.launch_plan_pk is None:
        return
    plan = s.get(LaunchPlanRow, row.launch_plan_pk)
    assert plan is not None  # a foreign key
    document = json.loads(plan.spec).get("notifications")
    if not document:
        return
    try:
        parsed = notifications_from_list(document, f"launch plan {plan.name}")
    except SpecError as e:
        # Registration parsed them with this very code, so only a spec stored by an older,
        # laxer version gets here; the execution must end all the same.
        log.error("execution %s/%s/%s ended %s; its launch plan's notifications cannot be "
                  "read, so none is sent: %s", row.project, row.domain, row.name,
                  phase.value, e)
        return
    assert row.ended_at is not None  # set by the end that calls this
    now = aware(row.ended_at)
    summary = json.dumps(_summary(row, phase, now))
    for position, notification in enumerate(parsed):
        if phase.value in notification.phases:
            s.add(NotificationRow(
                execution_pk=row.pk, position=position,
                notification=json.dumps(notification.to_dict()), phase=phase.value,
                summary=summary, status=DeliveryStatus.PENDING.value, attempts=0,
                next_attempt_at=now, created_at=now))


def _summary(row: ExecutionRow, phase: ExecutionPhase, ended: dt.datetime) -> dict[str, Any]:
    target = json.loads(row.target)
    started = aware(row.started_at) if row.started_at is not None else None
    error = ({"kind": row.error_kind or "SYSTEM", "message": row.error_message[:_MAX_MESSAGE]}
             if row.error_message is not None else None)
    return {
        "execution": {"project": row.project, "domain": row.domain, "name": row.name},
        "launch_plan": target.get("launch_plan"), "workflow": target.get("workflow"),
        "phase": phase.value,
        "created_at": aware(row.created_at).isoformat(),
        "started_at": started.isoformat() if started is not None else None,
        "ended_at": ended.isoformat(),
        "duration_s": (ended - started).total_seconds() if started is not None else None,
        "error": error,
        "abort_cause": row.abort_cause[:_MAX_MESSAGE] if row.abort_cause else None,
    }


def notifications_due(s: Session) -> bool:
    """Whether a notification is due to be sent (a cheap read: the notifier asks before
    it opens a write transaction to claim)."""
    return s.scalar(select(NotificationRow.pk).where(
        NotificationRow.status == DeliveryStatus.PENDING.value,
        NotificationRow.next_attempt_at <= db_now(s)).limit(1)) is not None


def claim_notifications(s: Session, limit: int, lease_s: float) -> list[Delivery]:
    """Start an attempt at up to ``limit`` due notifications, oldest first: each is
    leased for ``lease_s`` seconds (then due again, should its sender die) and its
    attempts counted. PostgreSQL skips rows another admin is claiming; SQLite
    serializes writers."""
    now = db_now(s)
    rows = s.scalars(select(NotificationRow).where(
        NotificationRow.status == DeliveryStatus.PENDING.value,
        NotificationRow.next_attempt_at <= now,
    ).order_by(NotificationRow.next_attempt_at, NotificationRow.pk).limit(limit)
        .with_for_update(skip_locked=True)).all()
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = now + dt.timedelta(seconds=lease_s)
    s.flush()
    return [_record(s, row) for row in rows]


def record_attempt(s: Session, key: int, attempt: int, error: str | None,
                   retry_in_s: float | None) -> None:
    """Record how attempt ``attempt`` of notification ``key`` ended: sent (``error`` is
    None), or failed and due again in ``retry_in_s`` seconds, or given up (None). An
    attempt whose lease passed and was claimed again records nothing (the newer one
    will)."""
    row = s.scalar(select(NotificationRow).where(NotificationRow.pk == key)
                   .with_for_update())
    if row is None or row.status != DeliveryStatus.PENDING.value or row.attempts != attempt:
        return
    now = db_now(s)
    row.attempted_at = now
    if error is None:
        row.status, row.sent_at, row.last_error = DeliveryStatus.SENT.value, now, None
        return
    row.last_error = error[:_MAX_MESSAGE]
    if retry_in_s is None:
        row.status = DeliveryStatus.FAILED.value
    else:
        row.next_attempt_at = now + dt.timedelta(seconds=retry_in_s)


def list_notifications(s: Session, ident: ExecutionId) -> list[Delivery]:
    """The notifications of an execution, in its launch plan's order (none before it
    ends); NotFoundError when the execution does not exist."""
    for part in ("project", "domain", "name"):
        check_part(part, getattr(ident, part))
    execution = s.scalar(select(ExecutionRow).where(
        ExecutionRow.project == ident.project, ExecutionRow.domain == ident.domain,
        ExecutionRow.name == ident.name))
    if execution is None:
        require_domain(s, ident.project, ident.domain, registering=False)
        raise NotFoundError(f"execution {ident} does not exist")
    rows = s.scalars(select(NotificationRow).where(
        NotificationRow.execution_pk == execution.pk).order_by(NotificationRow.position))
    return [_record(s, row, ident) for row in rows]


def _record(s: Session, row: NotificationRow, ident: ExecutionId | None = None) -> Delivery:
    if ident is None:
        execution = s.get(ExecutionRow, row.execution_pk)
        assert execution is not None  # a foreign key
        ident = ExecutionId(execution.project, execution.domain, execution.name)
    status = DeliveryStatus(row.status)
    return Delivery(
        row.pk, ident, row.position, NotificationSpec.from_dict(json.loads(row.notification)),
        ExecutionPhase(row.phase), json.loads(row.summary), status, row.attempts,
        row.last_error, aware(row.created_at),
        aware(row.attempted_at) if row.attempted_at is not None else None,
        aware(row.sent_at) if row.sent_at is not None else None,
        aware(row.next_attempt_at) if status is DeliveryStatus.PENDING else None)
