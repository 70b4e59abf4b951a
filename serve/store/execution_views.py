"""Reads of one execution for the console's views: pages of its node tree, its attempts'
times for the timeline, the node its error came from, and counts of what its map and
dynamic nodes ran inside themselves.

Each function takes a session and runs inside the caller's transaction;
``serve.store.admin`` binds them as ``AdminStore`` methods of the same name. They read
only the columns a view shows (never every node's inputs, outputs and children at once),
so a page of an execution with thousands of nodes stays one or two indexed queries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.dag.run.state import NodePhase
from serve.errors import NotFoundError
from serve.store import executions
from serve.store._models import NodeAttemptRow, NodeExecutionRow
from serve.store.change_records import headline
from serve.store.database import aware
from serve.store.execution_records import ExecutionId

# Rows of the node tree per page (a map's children included).
PAGE = 200
_FAILED = [NodePhase.FAILED.value, NodePhase.TIMED_OUT.value]


@dataclass(frozen=True)
class NodeSummary:
    """One row of the node tree: a node or a child of a map or dynamic node.

    ``start``/``end``: epoch seconds of its first attempt's start and last attempt's end;
    ``children``: how many nodes it ran inside itself (0: none); ``error``: the first
    line of its error (``change_records.headline``)."""

    node_id: str
    task: str
    phase: NodePhase
    attempts: int
    cache_status: str | None
    start: float | None
    end: float | None
    error_kind: str | None
    error: str | None
    children: int = 0
    waiting_since: float | None = None  # epoch seconds of its last change, when QUEUED


@dataclass(frozen=True)
class NodePage:
    """A page of rows (``offset`` of ``total``)."""

    rows: tuple[NodeSummary, ...]
    offset: int
    total: int


@dataclass(frozen=True)
class AttemptTimes:
    """One attempt for the timeline (epoch seconds; ``end`` None while it runs)."""

    node_id: str
    attempt: int
    start: float
    end: float | None
    outcome: NodePhase | None


@dataclass(frozen=True)
class FailedNode:
    node_id: str
    task: str
    error_kind: str
    error: str


def node_page(s: Session, ident: ExecutionId, offset: int = 0,
              limit: int = PAGE) -> NodePage:
    """The execution's top-level nodes in workflow order, ``limit`` from ``offset``."""
    execution = executions.get_row(s, ident)
    where = NodeExecutionRow.execution_pk == execution.pk
    total = s.scalar(select(func.count()).select_from(NodeExecutionRow).where(where)) or 0
    rows = s.execute(select(
        NodeExecutionRow.node_id, NodeExecutionRow.task, NodeExecutionRow.phase,
        NodeExecutionRow.error_kind, NodeExecutionRow.error_message,
        NodeExecutionRow.children, NodeExecutionRow.updated_at,
    ).where(where).order_by(NodeExecutionRow.position, NodeExecutionRow.node_id)
        .offset(max(offset, 0)).limit(max(min(limit, PAGE), 1))).all()
    ids = [r.node_id for r in rows]
    tried: dict[str, list[tuple[int, float, float | None, str | None]]] = {}
    if ids:
        for node_id, number, start, end, cache in s.execute(select(
                NodeAttemptRow.node_id, NodeAttemptRow.attempt, NodeAttemptRow.started_at,
                NodeAttemptRow.ended_at, NodeAttemptRow.cache_status).where(
                NodeAttemptRow.execution_pk == execution.pk,
                NodeAttemptRow.node_id.in_(ids)).order_by(NodeAttemptRow.attempt)):
            tried.setdefault(node_id, []).append((number, start, end, cache))
    out = []
    for r in rows:
        attempts = tried.get(r.node_id, [])
        phase = NodePhase(r.phase)
        out.append(NodeSummary(
            r.node_id, r.task, phase, len(attempts), attempts[-1][3] if attempts else None,
            attempts[0][1] if attempts else None, attempts[-1][2] if attempts else None,
            r.error_kind, headline(r.error_message),
            len(json.loads(r.children)) if r.children else 0,
            aware(r.updated_at).timestamp() if phase is NodePhase.QUEUED else None))
    return NodePage(tuple(out), offset, total)


def child_page(s: Session, ident: ExecutionId, node_id: str, offset: int = 0,
               limit: int = PAGE, failed_only: bool = False) -> NodePage:
    """The nodes that ``node_id`` (a map, dynamic or launch plan node) ran inside itself,
    ``limit`` from ``offset``; ``failed_only``: only those FAILED or TIMED_OUT."""
    execution = executions.get_row(s, ident)
    text = s.scalar(select(NodeExecutionRow.children).where(
        NodeExecutionRow.execution_pk == execution.pk, NodeExecutionRow.node_id == node_id))
    if text is None:
        raise NotFoundError(f"execution {ident} has no node {node_id[:80]!r} with children")
    rows = json.loads(text)
    if failed_only:
        rows = [r for r in rows if r[3] in _FAILED]
    offset = max(offset, 0)
    page = []
    for key, _child_id, task, phase, attempts, _child_execution, kids in \
            rows[offset:offset + max(min(limit, PAGE), 1)]:
        last = attempts[-1] if attempts else None
        page.append(NodeSummary(
            f"{node_id}/{key}", task, NodePhase(phase), len(attempts),
            last[6] if last else None, attempts[0][1] if attempts else None,
            last[2] if last else None, last[4] if last else None,
            headline(last[5]) if last else None, len(kids)))
    return NodePage(tuple(page), offset, len(rows))


def attempt_times(s: Session, ident: ExecutionId) -> list[AttemptTimes]:
    """Every attempt of the execution's top-level nodes, by node order then attempt."""
    execution = executions.get_row(s, ident)
    rows = s.execute(select(
        NodeAttemptRow.node_id, NodeAttemptRow.attempt, NodeAttemptRow.started_at,
        NodeAttemptRow.ended_at, NodeAttemptRow.outcome).where(
        NodeAttemptRow.execution_pk == execution.pk).order_by(
        NodeAttemptRow.started_at, NodeAttemptRow.node_id, NodeAttemptRow.attempt)).all()
    return [AttemptTimes(r.node_id, r.attempt, r.started_at, r.ended_at,
                         NodePhase(r.outcome) if r.outcome else None) for r in rows]


def failed_node(s: Session, ident: ExecutionId) -> FailedNode | None:
    """The first node (in workflow order) that failed with an error, if any."""
    execution = executions.get_row(s, ident)
    row = s.execute(select(
        NodeExecutionRow.node_id, NodeExecutionRow.task, NodeExecutionRow.error_kind,
        NodeExecutionRow.error_message).where(
        NodeExecutionRow.execution_pk == execution.pk,
        NodeExecutionRow.phase.in_(_FAILED),
        NodeExecutionRow.error_message.is_not(None)).order_by(
        NodeExecutionRow.position).limit(1)).first()
    if row is None:
        return None
    return FailedNode(row.node_id, row.task, row.error_kind or "SYSTEM", row.error_message)


def children_counts(s: Session, ident: ExecutionId) -> dict[str, int]:
    """Node id -> how many nodes it ran inside itself, for the nodes that ran any."""
    execution = executions.get_row(s, ident)
    rows = s.execute(select(NodeExecutionRow.node_id, NodeExecutionRow.children).where(
        NodeExecutionRow.execution_pk == execution.pk,
        NodeExecutionRow.children.is_not(None))).all()
    return {r.node_id: len(json.loads(r.children)) for r in rows}


def node_states(s: Session, ident: ExecutionId,
                node_ids: list[str]) -> dict[str, tuple[NodePhase, float]]:
    """Node id -> its phase and when it last changed (epoch seconds), for the nodes of
    ``node_ids`` that the execution has reached."""
    execution = executions.get_row(s, ident)
    if not node_ids:
        return {}
    rows = s.execute(select(
        NodeExecutionRow.node_id, NodeExecutionRow.phase, NodeExecutionRow.updated_at).where(
        NodeExecutionRow.execution_pk == execution.pk,
        NodeExecutionRow.node_id.in_(node_ids[:1000]))).all()
    return {r.node_id: (NodePhase(r.phase), aware(r.updated_at).timestamp()) for r in rows}
