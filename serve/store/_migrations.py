"""The admin schema's migrations, applied in order, once, by whichever process opens first.

Rules: never edit a migration once released; a new table (executions, schedules) gets a
new migration that creates exactly that table from its model. A fresh database runs every
migration in order, so a later migration that alters a table must allow for the model
already having the change (check before altering).
"""

from __future__ import annotations

from sqlalchemy import Connection, insert

from serve.store._db import Migration
from serve.store._models import (
    Base,
    DomainRow,
    ExecutionRow,
    LaunchPlanRow,
    NodeAttemptRow,
    NodeExecutionRow,
    ProjectRow,
    TaskRow,
    WorkflowRow,
)
from serve.store._projects import now
from serve.store.records import DEFAULT_DOMAINS

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


MIGRATIONS: list[tuple[int, Migration]] = [
    (1, _create_registry),
    (2, _add_default_project),
    (3, _create_executions),
]
