"""Reads of one execution for the console's views: pages of its node tree (with its
quick filters), its attempts' times for the timeline, the node its error came from, and
counts of what its map and dynamic nodes ran inside themselves.

Each function takes a session and runs inside the caller's transaction;
``serve.store.admin`` binds them as ``AdminStore`` methods of the same name. They read
only the columns a view shows (never every node's inputs, outputs and children at once),
so a page of an execution with thousands of nodes stays a few indexed queries.

The node tree: the execution's top-level nodes, where the nodes of an inlined
sub-workflow (ids ``<prefix>-<id>``, nested prefixes for nested sub-workflows) are one
group row per prefix, and a map, dynamic or launch plan node's children (its engine
rows, kept as JSON on its row) sit under it, ids ``<node>/<key>[/<key>...]``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import ColumnElement, String, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from engine.dag.run.state import NodePhase, NodeRow
from serve.errors import NotFoundError
from serve.store import executions
from serve.store._models import ExecutionRow, NodeAttemptRow, NodeExecutionRow
from serve.store.change_records import headline
from serve.store.database import aware
from serve.store.execution_records import ExecutionId

# Rows of the node tree per page (a map's children included).
PAGE = 200
_FAILED = [NodePhase.FAILED.value, NodePhase.TIMED_OUT.value]
# The node tree's quick filters, by name: the phases each keeps (``cached`` keeps the
# nodes whose outputs came from the cache, a HIT, instead).
FILTERS: dict[str, tuple[str, ...]] = {
    "failed": tuple(_FAILED),
    "running": (NodePhase.RUNNING.value, NodePhase.WAITING.value),
    "cached": (),
}
HIT = "HIT"
# A group row's phase: its most telling member's (failed over running over queued...).
_RANK = {"FAILED": 6, "TIMED_OUT": 6, "RUNNING": 5, "WAITING": 4, "QUEUED": 3,
         "ABORTED": 2, "SKIPPED": 1}


@dataclass(frozen=True)
class NodeSummary:
    """One row of the node tree: a node, a child of a map or dynamic node, or (``kind``
    "subworkflow") the group of an inlined sub-workflow's nodes, ``node_id`` its prefix.

    ``start``/``end``: epoch seconds of its first attempt's start and last attempt's end;
    ``children``: how many nodes it ran inside itself, or a group's members shown (0:
    none); ``error``: the first line of its error (``change_records.headline``);
    ``child_execution``: the admin execution it launched (a reference's run), to link;
    ``counts``: a group's members shown, by phase."""

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
    kind: str = "node"
    child_execution: ExecutionId | None = None
    counts: tuple[tuple[str, int], ...] = ()

    @property
    def depth(self) -> int:
        """How deep the row sits in the tree: one level per sub-workflow prefix of its
        node (``-``) and one per level of children (``/``)."""
        return self.node_id.partition("/")[0].count("-") + self.node_id.count("/")


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


def node_page(s: Session, ident: ExecutionId, offset: int = 0, limit: int = PAGE,
              only: str | None = None, group: str | None = None) -> NodePage:
    """One level of the execution's node tree in workflow order, ``limit`` entries from
    ``offset``: its top-level nodes (``group`` None) or the nodes of the inlined
    sub-workflow ``group`` (their id prefix); the nodes of a sub-workflow inside the
    level come as one group row (``kind`` "subworkflow"). ``only``: a quick filter
    (``FILTERS``): the nodes it keeps, and the groups and nodes with children holding
    any. Two grouped queries, then the page's own rows: never every node's."""
    execution = executions.get_row(s, ident)
    where = [NodeExecutionRow.execution_pk == execution.pk]
    if group is not None:
        where.append(NodeExecutionRow.node_id.like(_like_prefix(group + "-"), escape="\\"))
    if only is not None:
        where.append(_matches(only, execution.pk))
    keyed = select(NodeExecutionRow.node_id, NodeExecutionRow.position, NodeExecutionRow.phase,
                   _level_key(s, group).label("key")).where(*where).subquery()
    entries = select(keyed.c.key, func.count().label("n"),
                     func.min(keyed.c.position).label("pos"),
                     func.min(keyed.c.node_id).label("first")).group_by(keyed.c.key).subquery()
    total = s.scalar(select(func.count()).select_from(entries)) or 0
    offset = max(offset, 0)
    page = s.execute(select(entries).order_by(entries.c.pos, entries.c.key)
                     .offset(offset).limit(max(min(limit, PAGE), 1))).all()
    plain = [r.key for r in page if r.n == 1 and r.first == r.key]
    rows = _node_rows(s, ident, execution.pk, plain)
    counts: dict[str, dict[str, int]] = {}
    groups = [r.key for r in page if r.key not in rows]
    if groups:
        for key, phase, n in s.execute(select(keyed.c.key, keyed.c.phase, func.count())
                                       .where(keyed.c.key.in_(groups))
                                       .group_by(keyed.c.key, keyed.c.phase)):
            counts.setdefault(key, {})[phase] = n
    return NodePage(tuple(rows.get(r.key) or _group_row(r.key, counts.get(r.key, {}))
                          for r in page), offset, total)


def _like_prefix(prefix: str) -> str:
    """A LIKE pattern for the ids starting with ``prefix`` (its wildcards escaped)."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _level_key(s: Session, group: str | None) -> ColumnElement[str]:
    """SQL: the entry of ``group``'s level a node falls in: its id up to the first ``-``
    after the group's prefix (a top-level node, or a sub-workflow's prefix)."""
    find = func.instr if s.get_bind().dialect.name == "sqlite" else func.strpos
    node_id: ColumnElement[str] = NodeExecutionRow.node_id.expression
    rest = node_id if group is None else func.substr(node_id, len(group) + 2, type_=String)
    head = func.substr(rest, 1, find(rest + "-", "-") - 1, type_=String)
    return head if group is None else literal(group + "-", String) + head


def _matches(only: str, execution_pk: int) -> ColumnElement[bool]:
    """SQL: a node row the quick filter ``only`` keeps: its own phase or cache HIT, or
    any of its children's (by their counts by phase, or a HIT in their rows' text: a
    node shown for a HIT it does not hold merely expands to no rows)."""
    row = NodeExecutionRow
    if only == "cached":
        hit = exists().where(NodeAttemptRow.execution_pk == execution_pk,
                             NodeAttemptRow.node_id == row.node_id,
                             NodeAttemptRow.cache_status == HIT)
        return or_(hit, row.children.like(f'%"{HIT}"%'))
    phases = FILTERS[only]
    return or_(row.phase.in_(phases), *(row.child_counts.like(f'%"{p}"%') for p in phases))


def _node_rows(s: Session, ident: ExecutionId, execution_pk: int,
               ids: list[str]) -> dict[str, NodeSummary]:
    """The summaries of the execution's nodes ``ids`` (one page's), by node id."""
    if not ids:
        return {}
    rows = s.execute(select(
        NodeExecutionRow.node_id, NodeExecutionRow.task, NodeExecutionRow.phase,
        NodeExecutionRow.error_kind, NodeExecutionRow.error_message,
        NodeExecutionRow.child_counts, NodeExecutionRow.child_execution,
        NodeExecutionRow.updated_at,
    ).where(NodeExecutionRow.execution_pk == execution_pk,
            NodeExecutionRow.node_id.in_(ids))).all()
    tried: dict[str, list[tuple[int, float, float | None, str | None]]] = {}
    for node_id, number, start, end, cache in s.execute(select(
            NodeAttemptRow.node_id, NodeAttemptRow.attempt, NodeAttemptRow.started_at,
            NodeAttemptRow.ended_at, NodeAttemptRow.cache_status).where(
            NodeAttemptRow.execution_pk == execution_pk,
            NodeAttemptRow.node_id.in_(ids)).order_by(NodeAttemptRow.attempt)):
        tried.setdefault(node_id, []).append((number, start, end, cache))
    # How many nodes each ran inside itself, from their counts by phase (kept beside the
    # children so that a 10,000-element map's are never parsed here).
    kids = {r.node_id: sum(json.loads(r.child_counts).values()) if r.child_counts else 0
            for r in rows}
    # A node that launched an execution and ran no nodes itself: a reference's run.
    links = _executions_named(s, ident, [r.child_execution for r in rows
                                         if r.child_execution and not kids[r.node_id]])
    out = {}
    for r in rows:
        attempts = tried.get(r.node_id, [])
        phase = NodePhase(r.phase)
        out[r.node_id] = NodeSummary(
            r.node_id, r.task, phase, len(attempts), attempts[-1][3] if attempts else None,
            attempts[0][1] if attempts else None, attempts[-1][2] if attempts else None,
            r.error_kind, headline(r.error_message), kids[r.node_id],
            aware(r.updated_at).timestamp() if phase is NodePhase.QUEUED else None,
            child_execution=links.get(r.child_execution or ""))
    return out


def _group_row(prefix: str, counts: dict[str, int]) -> NodeSummary:
    """The row standing for the nodes of the sub-workflow ``prefix`` (those shown)."""
    phase = max(counts, key=lambda p: _RANK.get(p, 0)) if counts else NodePhase.QUEUED.value
    return NodeSummary(prefix, "", NodePhase(phase), 0, None, None, None, None, None,
                       sum(counts.values()), kind="subworkflow",
                       counts=tuple(sorted(counts.items())))


def _executions_named(s: Session, ident: ExecutionId,
                      names: list[str]) -> dict[str, ExecutionId]:
    """The admin's executions among ``names``: looked for in ``ident``'s project and
    domain first (its index), then by name alone (a reference into another project).
    A name not found is a sub-execution run inside a worker, which has no page."""
    found: dict[str, ExecutionId] = {}
    if names:
        for project, domain, name in s.execute(select(
                ExecutionRow.project, ExecutionRow.domain, ExecutionRow.name).where(
                ExecutionRow.project == ident.project, ExecutionRow.domain == ident.domain,
                ExecutionRow.name.in_(names))):
            found[name] = ExecutionId(project, domain, name)
    rest = [n for n in names if n not in found]
    if rest:
        for project, domain, name in s.execute(select(
                ExecutionRow.project, ExecutionRow.domain, ExecutionRow.name).where(
                ExecutionRow.name.in_(rest)).order_by(ExecutionRow.project,
                                                       ExecutionRow.domain)):
            found.setdefault(name, ExecutionId(project, domain, name))
    return found


def child_page(s: Session, ident: ExecutionId, path: str, offset: int = 0,
               limit: int = PAGE, only: str | None = None) -> NodePage:
    """The nodes that a node (a map, dynamic or launch plan node) ran inside itself,
    ``limit`` from ``offset``. ``path``: the node's id, then ``/key`` per level down to
    a child that ran nodes itself (a dynamic node inside a dynamic node's); ``only``: a
    quick filter (``FILTERS``), keeping the children that match or hold any that do."""
    execution = executions.get_row(s, ident)
    node_id, *keys = path.split("/")
    text = s.scalar(select(NodeExecutionRow.children).where(
        NodeExecutionRow.execution_pk == execution.pk, NodeExecutionRow.node_id == node_id))
    if text is None:
        raise NotFoundError(f"execution {ident} has no node {node_id[:80]!r} with children")
    rows = json.loads(text)
    for depth, key in enumerate(keys):
        row = next((r for r in rows if r[0] == key), None)
        if row is None:
            raise NotFoundError(f"execution {ident}: node {node_id[:80]!r} ran no child "
                                f"{'/'.join(keys[:depth + 1])[:120]!r}")
        rows = row[6]
    if only is not None:
        rows = [r for r in rows if _child_matches(r, only)]
    offset = max(offset, 0)
    shown = rows[offset:offset + max(min(limit, PAGE), 1)]
    links = _executions_named(s, ident, [r[5] for r in shown if r[5] and not r[6]])
    page = []
    for key, _child_id, task, phase, attempts, child_execution, kids in shown:
        last = attempts[-1] if attempts else None
        page.append(NodeSummary(
            f"{path}/{key}", task, NodePhase(phase), len(attempts),
            last[6] if last else None, attempts[0][1] if attempts else None,
            last[2] if last else None, last[4] if last else None,
            headline(last[5]) if last else None, len(kids),
            child_execution=links.get(child_execution or "")))
    return NodePage(tuple(page), offset, len(rows))


def _child_matches(row: NodeRow, only: str) -> bool:
    """Whether the quick filter ``only`` keeps a child (an engine node row) or any of
    its own children."""
    own = any(a[6] == HIT for a in row[4]) if only == "cached" else row[3] in FILTERS[only]
    return own or any(_child_matches(kid, only) for kid in row[6])


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
