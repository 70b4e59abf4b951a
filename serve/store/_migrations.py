"""The admin schema's migrations, applied in order, once, by whichever process opens first.

Rules: never edit a migration once released; a new table (executions, schedules) gets a
new migration that creates exactly that table from its model. A fresh database runs every
migration in order, so a later migration that alters a table must allow for the model
already having the change (check before altering).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import cast

from sqlalchemy import Connection, Table, insert, inspect, select, text, update

from serve.store._models import (
    Base,
    DomainRow,
    ExecutionLabelRow,
    ExecutionRow,
    ExecutionRunRow,
    ExecutorRow,
    LaunchPlanRow,
    NodeAttemptRow,
    NodeExecutionRow,
    NotificationRow,
    ProjectRow,
    SchedulerLeaderRow,
    ScheduleRow,
    SignalRow,
    TaskRow,
    WorkflowRow,
)
from serve.store.change_records import phase_counts
from serve.store.database import Migration, now
from serve.store.records import DEFAULT_DOMAINS
from serve.store.specs import canonical_json

DEFAULT_PROJECT = "flytesnacks"


def _create_registry(conn: Connection) -> None:
    tables = [ProjectRow, DomainRow, TaskRow, WorkflowRow, LaunchPlanRow]
    Base.metadata.create_all(conn, tables=[t.__table__ for t in tables])  # type: ignore[misc]


def _add_default_project(conn: Connection) -> None:
    conn.execute(insert(ProjectRow).values(
        id=DEFAULT_PROJECT, name=DEFAULT_PROJECT, description="The default project",
        created_at=now()))
    conn.execute(insert(DomainRow), [
        {"project": DEFAULT_PROJECT, "id": d, "name": d, "position": i}
        for i, d in enumerate(DEFAULT_DOMAINS)])


def _create_executions(conn: Connection) -> None:
    tables = [ExecutionRow, NodeExecutionRow, NodeAttemptRow]
    Base.metadata.create_all(conn, tables=[t.__table__ for t in tables])  # type: ignore[misc]


def _create_schedules(conn: Connection) -> None:
    """Schedules: executions get ``scheduled_at`` and a unique (launch plan name, tick);
    the schedules' state and the scheduler's leader lease get their tables."""
    table = cast("Table", ExecutionRow.__table__)
    columns = {c["name"] for c in inspect(conn).get_columns(table.name)}
    if "scheduled_at" not in columns:  # a fresh database has it from migration 3
        kind = table.c.scheduled_at.type.compile(dialect=conn.dialect)
        conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN scheduled_at {kind}"))
    for index in table.indexes:
        if index.name == "admin_executions_one_per_tick":
            index.create(conn, checkfirst=True)
    tables = [ScheduleRow, SchedulerLeaderRow]
    Base.metadata.create_all(conn, tables=[t.__table__ for t in tables])  # type: ignore[misc]
    conn.execute(insert(SchedulerLeaderRow).values(
        id=1, holder="", expires_at=dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)))


def _add_timeout_and_node_inputs(conn: Connection) -> None:
    """Executions get ``timeout_s``, node executions ``inputs`` (both NULL where unset)."""
    for model, column in ((ExecutionRow, "timeout_s"), (NodeExecutionRow, "inputs")):
        table = cast("Table", model.__table__)
        if column not in {c["name"] for c in inspect(conn).get_columns(table.name)}:
            kind = table.c[column].type.compile(dialect=conn.dialect)
            conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {column} {kind}"))


def _add_labels_and_raw_output_prefix(conn: Connection) -> None:
    """Executions get ``labels``, ``annotations`` and ``raw_output_prefix`` (NULL for
    those made before: none), and their labels a table of their own."""
    table = cast("Table", ExecutionRow.__table__)
    present = {c["name"] for c in inspect(conn).get_columns(table.name)}
    for column in ("labels", "annotations", "raw_output_prefix"):
        if column not in present:  # a fresh database has them from migration 3
            kind = table.c[column].type.compile(dialect=conn.dialect)
            conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {column} {kind}"))
    Base.metadata.create_all(conn, tables=[ExecutionLabelRow.__table__])  # type: ignore[list-item]


def _create_executors(conn: Connection) -> None:
    """Executors report themselves in a table of their own."""
    Base.metadata.create_all(conn, tables=[ExecutorRow.__table__])  # type: ignore[list-item]


def _create_notifications(conn: Connection) -> None:
    """Notifications of ended executions (their outbox) get a table of their own."""
    Base.metadata.create_all(conn, tables=[NotificationRow.__table__])  # type: ignore[list-item]


def _create_signals(conn: Connection) -> None:
    """The gates of executions and their signals get a table of their own."""
    Base.metadata.create_all(conn, tables=[SignalRow.__table__])  # type: ignore[list-item]


def _add_deck_uri(conn: Connection) -> None:
    """Node attempts get ``deck_uri`` (NULL for those recorded before: no deck)."""
    table = cast("Table", NodeAttemptRow.__table__)
    if "deck_uri" not in {c["name"] for c in inspect(conn).get_columns(table.name)}:
        kind = table.c.deck_uri.type.compile(dialect=conn.dialect)
        conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN deck_uri {kind}"))


def _add_logs_and_change_feed(conn: Connection) -> None:
    """Node attempts get ``log_uri``; the change feed gets the executions' ``change_seq``,
    the ``seq`` of node and attempt rows (indexed by execution) and the nodes'
    ``child_counts``. Rows written before are numbered here, uniquely within their
    execution (nodes by their key, attempts after every node), each execution's counter
    set past its rows' numbers, and their children counted."""
    _add_columns(conn, NodeAttemptRow, ("log_uri", "seq"))
    _add_columns(conn, NodeExecutionRow, ("seq", "child_counts"))
    executions = ExecutionRow.__tablename__
    if "change_seq" not in {c["name"] for c in inspect(conn).get_columns(executions)}:
        conn.execute(text(f"ALTER TABLE {executions} ADD COLUMN change_seq INTEGER "
                          "NOT NULL DEFAULT 0"))
    for model in (NodeExecutionRow, NodeAttemptRow):
        for index in cast("Table", model.__table__).indexes:
            index.create(conn, checkfirst=True)
    nodes, attempts = NodeExecutionRow.__tablename__, NodeAttemptRow.__tablename__
    offset = conn.scalar(text(f"SELECT coalesce(max(pk), 0) FROM {nodes}"))
    conn.execute(text(f"UPDATE {nodes} SET seq = pk WHERE seq IS NULL"))
    conn.execute(text(f"UPDATE {attempts} SET seq = pk + :offset WHERE seq IS NULL"),
                 {"offset": offset})
    for pk, children in conn.execute(select(NodeExecutionRow.pk, NodeExecutionRow.children)
                                     .where(NodeExecutionRow.children.is_not(None),
                                            NodeExecutionRow.child_counts.is_(None))).all():
        conn.execute(update(NodeExecutionRow).where(NodeExecutionRow.pk == pk).values(
            child_counts=canonical_json(phase_counts(json.loads(cast("str", children))))))
    # An attempt's number is above every node's, so an execution's highest is its last
    # attempt's when it has one.
    conn.execute(text(
        f"UPDATE {executions} SET change_seq = coalesce("
        f"(SELECT max(seq) FROM {attempts} a WHERE a.execution_pk = {executions}.pk), "
        f"(SELECT max(seq) FROM {nodes} n WHERE n.execution_pk = {executions}.pk), 0)"))


def _add_cache_sources(conn: Connection) -> None:
    """Node attempts get ``cache_source`` (NULL for those recorded before: unknown), and
    the runs of executions a table of their own (empty: earlier runs stay unknown)."""
    _add_columns(conn, NodeAttemptRow, ("cache_source",))
    Base.metadata.create_all(conn, tables=[ExecutionRunRow.__table__])  # type: ignore[list-item]


def _add_columns(conn: Connection, model: type[Base], columns: tuple[str, ...]) -> None:
    """Add the model's nullable ``columns`` its table lacks (a fresh database has them
    from the migration that made the table)."""
    table = cast("Table", model.__table__)
    present = {c["name"] for c in inspect(conn).get_columns(table.name)}
    for column in columns:
        if column not in present:
            kind = table.c[column].type.compile(dialect=conn.dialect)
            conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {column} {kind}"))


MIGRATIONS: list[tuple[int, Migration]] = [
    (1, _create_registry),
    (2, _add_default_project),
    (3, _create_executions),
    (4, _create_schedules),
    (5, _add_timeout_and_node_inputs),
    (6, _add_labels_and_raw_output_prefix),
    (7, _create_executors),
    (8, _create_notifications),
    (9, _create_signals),
    (10, _add_deck_uri),
    (11, _add_logs_and_change_feed),
    (12, _add_cache_sources),
]
