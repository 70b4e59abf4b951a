"""The change feed of an execution: what changed since a reader's cursor, for live views.

Every write of a node or attempt row takes the execution's next ``change_seq`` (as does
a change of the execution's phase) while holding the execution row's lock, so the
numbers of one execution increase in commit order. A read takes the counter first and
then only rows numbered up to it: at PostgreSQL's READ COMMITTED each statement sees
its own snapshot, and a row committed between the two has a higher number and comes
with the next read. Each query walks the ``(execution_pk, seq)`` index.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from engine.dag.run.state import ExecutionPhase, NodePhase
from serve.errors import InvalidArgumentError
from serve.store import executions
from serve.store._models import NodeAttemptRow, NodeExecutionRow
from serve.store.change_records import (
    AttemptChange,
    ExecutionChanges,
    NodeChange,
    headline,
)
from serve.store.database import aware
from serve.store.execution_records import ErrorInfo, ExecutionId, NodeAttempt

MAX_CHANGES = 10_000  # rows in one answer
_NODE_COLUMNS = (NodeExecutionRow.node_id, NodeExecutionRow.task, NodeExecutionRow.phase,
                 NodeExecutionRow.position, NodeExecutionRow.error_kind,
                 NodeExecutionRow.error_message, NodeExecutionRow.child_execution,
                 NodeExecutionRow.child_counts, NodeExecutionRow.seq)


def execution_changes(s: Session, ident: ExecutionId, since: int = 0,
                      limit: int = 5000) -> ExecutionChanges:
    """The execution now, and its nodes and attempts written after ``since`` (0: all
    of them), at most ``limit`` rows, oldest change first."""
    if not isinstance(since, int) or since < 0:
        raise InvalidArgumentError(f"since must be a seq of an earlier answer (an integer "
                                   f"from 0), got {since!r}")
    if not isinstance(limit, int) or not 1 <= limit <= MAX_CHANGES:
        raise InvalidArgumentError(f"limit must be from 1 to {MAX_CHANGES}, got {limit!r}")
    row = executions.get_row(s, ident)
    upto = row.change_seq
    nodes = [_node_change(r) for r in s.execute(
        select(*_NODE_COLUMNS).where(*_window(NodeExecutionRow, row.pk, since, upto))
        .order_by(NodeExecutionRow.seq).limit(limit + 1))]
    attempts = [_attempt_change(r) for r in s.scalars(
        select(NodeAttemptRow).where(*_window(NodeAttemptRow, row.pk, since, upto))
        .order_by(NodeAttemptRow.seq).limit(limit + 1))]
    cut = sorted([n.seq for n in nodes] + [a.seq for a in attempts])
    more = len(cut) > limit
    seq = cut[limit - 1] if more else upto
    error = (ErrorInfo(row.error_kind or "SYSTEM", row.error_message)
             if row.error_message is not None else None)
    return ExecutionChanges(
        ident, ExecutionPhase(row.phase), aware(row.started_at) if row.started_at else None,
        aware(row.ended_at) if row.ended_at else None, error, seq, more,
        tuple(n for n in nodes if n.seq <= seq), tuple(a for a in attempts if a.seq <= seq))


def _window(model: type[NodeExecutionRow] | type[NodeAttemptRow], execution_pk: int,
            since: int, upto: int) -> tuple[ColumnElement[bool], ...]:
    return (model.execution_pk == execution_pk, model.seq > since, model.seq <= upto)


def _node_change(r: Any) -> NodeChange:  # a row of _NODE_COLUMNS
    return NodeChange(r.node_id, r.task, NodePhase(r.phase), r.position, r.error_kind,
                      headline(r.error_message), r.child_execution,
                      json.loads(r.child_counts) if r.child_counts else {}, r.seq)


def _attempt_change(r: NodeAttemptRow) -> AttemptChange:
    return AttemptChange(r.node_id, NodeAttempt(
        r.attempt, r.started_at, r.ended_at, NodePhase(r.outcome) if r.outcome else None,
        r.error_kind, headline(r.error_message), r.cache_status,
        json.loads(r.worker) if r.worker else {}, r.deck_uri, r.log_uri), r.seq or 0)
