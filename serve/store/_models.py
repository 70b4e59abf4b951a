"""ORM rows of the admin database. Only ``serve.store`` uses them; rows never leave it.

Tables are prefixed ``admin_`` so the admin API may share a database with the data
catalog. A new concept (executions, schedules) adds its own rows here and a migration
in ``_migrations`` that creates exactly its tables.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from serve.identifiers import MAX_NAME, MAX_VERSION


class Base(DeclarativeBase):
    pass


def _sortable(length: int) -> String:
    """Text compared byte by byte on every backend (PostgreSQL's default collation would
    order by locale), so listings sort and page the same on SQLite and PostgreSQL."""
    return String(length).with_variant(String(length, collation="C"),
                                       "postgresql")


class SchemaVersion(Base):
    """The one row saying which migrations have run."""

    __tablename__ = "admin_schema_version"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


class ProjectRow(Base):
    __tablename__ = "admin_projects"
    id: Mapped[str] = mapped_column(_sortable(63), primary_key=True)
    name: Mapped[str] = mapped_column(_sortable(255))
    description: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class DomainRow(Base):
    """A domain of a project; ``position`` keeps the order they were declared in."""

    __tablename__ = "admin_domains"
    project: Mapped[str] = mapped_column(ForeignKey("admin_projects.id", ondelete="CASCADE"),
                                         primary_key=True)
    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    position: Mapped[int] = mapped_column(Integer)


def _entity_table_args(table: str) -> tuple[object, ...]:
    return (
        UniqueConstraint("project", "domain", "name", "version", name=f"{table}_id"),
        ForeignKeyConstraint(["project", "domain"], ["admin_domains.project", "admin_domains.id"],
                             name=f"{table}_domain"),
        Index(f"{table}_by_time", "project", "domain", "created_at"),
    )


class _EntityColumns:
    """What every registered entity (task, workflow, launch plan) has."""

    # Surrogate key, for foreign keys from later tables (executions, node executions).
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(String(63))
    domain: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(_sortable(MAX_NAME))
    version: Mapped[str] = mapped_column(_sortable(MAX_VERSION))
    # The spec's JSON text, as normalised by the spec's own to_dict (key order kept).
    spec: Mapped[str] = mapped_column(Text)
    # Where the entity's code bundle lives (``flyray register``), if anywhere.
    code_uri: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class TaskRow(_EntityColumns, Base):
    __tablename__ = "admin_tasks"
    __table_args__ = _entity_table_args("admin_tasks")


class WorkflowRow(_EntityColumns, Base):
    __tablename__ = "admin_workflows"
    __table_args__ = _entity_table_args("admin_workflows")


class LaunchPlanRow(_EntityColumns, Base):
    """A launch plan version, with its (mutable) activation state.

    The partial unique index allows at most one ACTIVE version per (project, domain,
    name): the database, not the code path, guarantees it under concurrency.
    """

    __tablename__ = "admin_launch_plans"
    __table_args__ = (
        *_entity_table_args("admin_launch_plans"),
        Index("admin_launch_plans_one_active", "project", "domain", "name", unique=True,
              sqlite_where=text("state = 'ACTIVE'"), postgresql_where=text("state = 'ACTIVE'")),
    )
    workflow_pk: Mapped[int] = mapped_column(ForeignKey("admin_workflows.pk"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    state_updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # The schedule's JSON text (also in the spec), for the scheduler to query; NULL: none.
    schedule: Mapped[str | None] = mapped_column(Text, nullable=True)
    max_parallel_executions: Mapped[int | None] = mapped_column(Integer, nullable=True)
