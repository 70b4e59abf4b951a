"""Node executions and their attempts: the driver's events, and reads for the API.

Each function takes a session and runs inside the caller's transaction;
``serve.store.admin`` binds the public ones as ``AdminStore`` methods of the same name.
Writes are idempotent and move forward only: a node's phase goes QUEUED, RUNNING,
then one terminal phase; an attempt, keyed by (execution, node, attempt), is written
when it starts and when it ends, and never changed once ended. A newer driver incarnation
may start a node over, except one that SUCCEEDED or was RECOVERED: those keep their
outputs. Every row written takes the execution's next change seq (the change feed,
``serve.store.changes``), under the execution row's lock that ``drivers.fenced`` holds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.dag.run.state import ExecutionPhase, NodePhase, nodes_from_rows
from serve.errors import NotFoundError
from serve.store import drivers, executions
from serve.store._models import ExecutionRow, ExecutionRunRow, NodeAttemptRow, NodeExecutionRow
from serve.store.change_records import phase_counts
from serve.store.database import db_now
from serve.store.execution_records import (
    AttemptEvent,
    CacheSource,
    ErrorInfo,
    Event,
    ExecutionId,
    ExecutionStarted,
    NodeAttempt,
    NodeEvent,
    NodeExecution,
)
from serve.store.specs import canonical_json

_MAX_NODE_ID = 255


def _rank(phase: NodePhase) -> int:
    return {NodePhase.QUEUED: 0, NodePhase.RUNNING: 1, NodePhase.WAITING: 1}.get(phase, 2)


def record_events(s: Session, ident: ExecutionId, incarnation: int,
                  events: Sequence[Event]) -> str | None:
    """Write a driver's events (this also counts as its heartbeat); returns the abort
    cause once a stop was requested. DriverFencedError when the driver may not write
    any more."""
    row = drivers.fenced(s, ident, incarnation)
    now = db_now(s)
    row.heartbeat_at = now
    for event in events:
        if isinstance(event, ExecutionStarted):
            if row.phase == ExecutionPhase.QUEUED.value:
                row.phase = ExecutionPhase.RUNNING.value
                row.take_seq()  # the feed's readers see the phase move
            if row.started_at is None:
                row.started_at = now
            if event.run is not None and s.get(ExecutionRunRow, event.run) is None:
                s.add(ExecutionRunRow(run_name=event.run, execution_pk=row.pk))
        elif isinstance(event, NodeEvent):
            _node(s, row, incarnation, event, now)
        else:
            _attempt(s, row, event)
    s.flush()
    return row.abort_cause


def _node(s: Session, execution: ExecutionRow, incarnation: int, event: NodeEvent,
          now: object) -> None:
    row = s.scalar(select(NodeExecutionRow).where(
        NodeExecutionRow.execution_pk == execution.pk,
        NodeExecutionRow.node_id == event.node_id))
    if row is None:
        row = NodeExecutionRow(execution_pk=execution.pk, node_id=event.node_id,
                               task=event.task, position=event.position,
                               phase=event.phase.value, incarnation=incarnation)
        s.add(row)
    else:
        current = NodePhase(row.phase)
        if current.has_outputs:
            return  # done for good: a resuming driver reports it RECOVERED, kept as it is
        newer = incarnation > row.incarnation
        if not newer and (current.terminal or _rank(event.phase) < _rank(current)):
            return  # a repeat, or out of order: phases only move forward
        row.phase = event.phase.value
        row.incarnation = incarnation
    row.error_kind, row.error_message = event.error_kind, event.error
    if event.children is not None:
        row.children = canonical_json(event.children)
        row.child_counts = canonical_json(phase_counts(event.children))
    if event.child_execution is not None:
        row.child_execution = event.child_execution
    if event.phase.has_outputs and event.outputs is not None:
        row.outputs = canonical_json(event.outputs)
    if event.inputs is not None:
        row.inputs = canonical_json(event.inputs)
    row.updated_at = now  # type: ignore[assignment]
    row.seq = execution.take_seq()


def _attempt(s: Session, execution: ExecutionRow, event: AttemptEvent) -> None:
    attempt = event.attempt
    row = s.scalar(select(NodeAttemptRow).where(
        NodeAttemptRow.execution_pk == execution.pk, NodeAttemptRow.node_id == event.node_id,
        NodeAttemptRow.attempt == attempt.attempt))
    if row is not None and row.outcome is not None:
        return  # an ended attempt never changes
    if row is None:
        row = NodeAttemptRow(execution_pk=execution.pk, node_id=event.node_id,
                             attempt=attempt.attempt)
        s.add(row)
    row.started_at, row.ended_at = attempt.started_at, attempt.ended_at
    row.outcome = attempt.outcome.value if attempt.outcome else None
    row.error_kind, row.error_message = attempt.error_kind, attempt.error
    row.cache_status = attempt.cache_status
    row.worker = canonical_json(attempt.worker) if attempt.worker else None
    row.deck_uri = attempt.deck_uri
    source = attempt.cache_source
    row.cache_source = canonical_json({"run": source.run, "node_id": source.node_id}) \
        if source else None
    # A running attempt's log is where the driver sent it; an ended attempt without one
    # printed and logged nothing, so no log was stored (engine.logs: quiet attempts).
    row.log_uri = attempt.log_uri if attempt.outcome is not None else (
        attempt.log_uri or row.log_uri)
    row.seq = execution.take_seq()


# --- reads ---------------------------------------------------------------------------------


def list_node_executions(s: Session, ident: ExecutionId) -> list[NodeExecution]:
    """The execution's nodes in the workflow's order, each with its attempts."""
    execution = executions.get_row(s, ident)
    rows = s.scalars(select(NodeExecutionRow).where(
        NodeExecutionRow.execution_pk == execution.pk).order_by(
        NodeExecutionRow.position, NodeExecutionRow.node_id)).all()
    attempt_rows = s.scalars(select(NodeAttemptRow).where(
        NodeAttemptRow.execution_pk == execution.pk).order_by(NodeAttemptRow.attempt)).all()
    runs = _runs(s, attempt_rows)
    attempts: dict[str, list[NodeAttempt]] = {}
    for a in attempt_rows:
        attempts.setdefault(a.node_id, []).append(_attempt_of(a, runs))
    return [_node_of(ident, r, attempts.get(r.node_id, [])) for r in rows]


def get_node_execution(s: Session, ident: ExecutionId, node_id: str) -> NodeExecution:
    """One node of the execution, with its attempts; NotFoundError until it is known."""
    execution = executions.get_row(s, ident)
    row = None
    if isinstance(node_id, str) and len(node_id) <= _MAX_NODE_ID:
        row = s.scalar(select(NodeExecutionRow).where(
            NodeExecutionRow.execution_pk == execution.pk,
            NodeExecutionRow.node_id == node_id))
    if row is None:
        raise NotFoundError(f"execution {ident} has no node {node_id[:80]!r} (yet); list its "
                            f"nodes with GET /api/v1/node_executions/{ident}")
    attempts = s.scalars(select(NodeAttemptRow).where(
        NodeAttemptRow.execution_pk == execution.pk, NodeAttemptRow.node_id == node_id
    ).order_by(NodeAttemptRow.attempt)).all()
    runs = _runs(s, attempts)
    return _node_of(ident, row, [_attempt_of(a, runs) for a in attempts])


def _node_of(ident: ExecutionId, row: NodeExecutionRow,
             attempts: list[NodeAttempt]) -> NodeExecution:
    error = (ErrorInfo(row.error_kind or "SYSTEM", row.error_message)
             if row.error_message is not None else None)
    children = nodes_from_rows(json.loads(row.children)) if row.children else {}
    return NodeExecution(ident, row.node_id, row.task, NodePhase(row.phase), row.position,
                         error, tuple(attempts), children, row.child_execution,
                         json.loads(row.outputs) if row.outputs is not None else None,
                         json.loads(row.inputs) if row.inputs is not None else None)


def _runs(s: Session, attempts: Sequence[NodeAttemptRow]) -> dict[str, ExecutionId]:
    """The executions of the runs that produced the attempts' HITs, by run name (one
    indexed query, none without HITs); a run this admin never drove is absent."""
    names = {json.loads(a.cache_source)["run"] for a in attempts if a.cache_source}
    if not names:
        return {}
    found = s.execute(select(ExecutionRunRow.run_name, ExecutionRow.project,
                             ExecutionRow.domain, ExecutionRow.name)
                      .join(ExecutionRow, ExecutionRow.pk == ExecutionRunRow.execution_pk)
                      .where(ExecutionRunRow.run_name.in_(names)))
    return {run: ExecutionId(project, domain, name) for run, project, domain, name in found}


def _attempt_of(row: NodeAttemptRow, runs: dict[str, ExecutionId]) -> NodeAttempt:
    source = None
    if row.cache_source:
        found = json.loads(row.cache_source)
        source = CacheSource(found["run"], found["node_id"], runs.get(found["run"]))
    return NodeAttempt(row.attempt, row.started_at, row.ended_at,
                       NodePhase(row.outcome) if row.outcome else None, row.error_kind,
                       row.error_message, row.cache_status,
                       json.loads(row.worker) if row.worker else {}, row.deck_uri,
                       row.log_uri, source)
