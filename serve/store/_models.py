"""ORM rows of the admin database. Only ``serve.store`` uses them; rows never leave it.

Tables are prefixed ``admin_`` so the admin API may share a database with the data
catalog. A new concept (executions, schedules) adds its own rows here and a migration
in ``_migrations`` that creates exactly its tables.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
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

from serve.store.identifiers import MAX_NAME, MAX_VERSION


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


# --- executions ----------------------------------------------------------------------


class ExecutionRow(Base):
    """One execution of a launch plan, workflow or task, and its driver's lease.

    ``(project, domain, name)`` is unique: a client-chosen name makes a create
    idempotent. Phases only move forward (QUEUED, RUNNING, then one terminal phase).
    """

    __tablename__ = "admin_executions"
    __table_args__ = (
        UniqueConstraint("project", "domain", "name", name="admin_executions_id"),
        ForeignKeyConstraint(["project", "domain"], ["admin_domains.project", "admin_domains.id"],
                             name="admin_executions_domain"),
        Index("admin_executions_by_time", "project", "domain", "created_at"),
        Index("admin_executions_by_phase", "phase"),
        Index("admin_executions_by_plan", "launch_plan_pk", "phase"),
        # A schedule's tick makes one execution, whatever the version or the scheduler.
        Index("admin_executions_one_per_tick", "project", "domain", "launch_plan_name",
              "scheduled_at", unique=True),
    )
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(String(63))
    domain: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(_sortable(MAX_NAME))
    # What runs: the launch plan (a workflow run directly runs its default launch plan),
    # the workflow, or the task (a task runs alone: no launch plan, no workflow).
    launch_plan_pk: Mapped[int | None] = mapped_column(ForeignKey("admin_launch_plans.pk"),
                                                       nullable=True)
    workflow_pk: Mapped[int | None] = mapped_column(ForeignKey("admin_workflows.pk"),
                                                    nullable=True)
    task_pk: Mapped[int | None] = mapped_column(ForeignKey("admin_tasks.pk"), nullable=True)
    # Their identifiers (JSON: {"launch_plan": id | null, "workflow": ..., "task": ...}),
    # so reads need no join.
    target: Mapped[str] = mapped_column(Text)
    # The launch plan's name, for the listing's filter without a join.
    launch_plan_name: Mapped[str | None] = mapped_column(_sortable(MAX_NAME), nullable=True)
    # The request as the client sent it (canonical JSON): a repeat with the same name
    # must equal it.
    request: Mapped[str] = mapped_column(Text)
    # The inputs it runs with (input name -> JSON literal), defaults and fixed applied.
    inputs: Mapped[str] = mapped_column(Text)
    overwrite_cache: Mapped[bool] = mapped_column(Boolean)
    # MANUAL, RELAUNCH, RECOVER or SCHEDULED.
    mode: Mapped[str] = mapped_column(String(16))
    # SCHEDULED: the tick it was made for (UTC, the scheduler's clock); unique per launch
    # plan name. NULL for the other modes (NULLs never collide in a unique index).
    scheduled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                             nullable=True)
    relaunched_from_pk: Mapped[int | None] = mapped_column(ForeignKey("admin_executions.pk"),
                                                           nullable=True)
    recovered_from_pk: Mapped[int | None] = mapped_column(ForeignKey("admin_executions.pk"),
                                                          nullable=True)
    # The code bundle of the entity run (a zip URI), copied when the execution is made.
    code_uri: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Seconds the execution may run (from started_at) before it ends TIMED_OUT; NULL: no
    # limit. Relaunches and recoveries copy it.
    timeout_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    phase: Mapped[str] = mapped_column(String(16))
    error_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Set by a terminate request; the driver stops and records ABORTED with it.
    abort_cause: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The workflow's outputs: output name -> stored form ({"inline": ...} or {"uri": ...}).
    outputs: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Times from the database's clock.
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                           nullable=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # The driver lease. ``launch`` counts drivers started by the admin (0: none yet,
    # e.g. waiting for a slot under the launch plan's max_parallel_executions) and names
    # the current driver actor; ``incarnation`` goes up when a driver claims the execution
    # and when a lost one is restarted: only the driver holding the latest may write
    # (fencing); ``heartbeat_at`` is its liveness.
    launch: Mapped[int] = mapped_column(Integer)
    launched_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                            nullable=True)
    incarnation: Mapped[int] = mapped_column(Integer)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                             nullable=True)
    # How often the reaper restarted a lost driver.
    driver_restarts: Mapped[int] = mapped_column(Integer)
    # Its labels and annotations (JSON objects; NULL: none) and the URI its raw outputs
    # go under (NULL: the blob store's default place): the launch plan's, overlaid by
    # the request's; relaunches and recoveries copy them. Labels are also rows of
    # ``admin_execution_labels``, for the listing's filter.
    labels: Mapped[str | None] = mapped_column(Text, nullable=True)
    annotations: Mapped[str | None] = mapped_column(Text, nullable=True)
    raw_output_prefix: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The change feed's counter (migration 11): every write of one of its node or attempt
    # rows, and every change of its phase, takes the next value, under the row's lock;
    # a node or attempt row keeps the value of its last write as its ``seq``.
    change_seq: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    def take_seq(self) -> int:
        """The execution's next change seq (the caller holds the row's lock)."""
        self.change_seq = (self.change_seq or 0) + 1
        return self.change_seq


class ExecutionLabelRow(Base):
    """One label of an execution (``ExecutionRow.labels`` holds them all): what
    ``?label=key:value`` filters on, by index."""

    __tablename__ = "admin_execution_labels"
    __table_args__ = (
        Index("admin_execution_labels_by_value", "key", "value"),
    )
    execution_pk: Mapped[int] = mapped_column(
        ForeignKey("admin_executions.pk", ondelete="CASCADE"), primary_key=True)
    # A Kubernetes label: key at most 253 + 1 + 63 characters, value at most 63.
    key: Mapped[str] = mapped_column(String(320), primary_key=True)
    value: Mapped[str] = mapped_column(String(63))


class NodeExecutionRow(Base):
    """One node of an execution: its phase, children and (once succeeded) durable outputs."""

    __tablename__ = "admin_node_executions"
    __table_args__ = (
        UniqueConstraint("execution_pk", "node_id", name="admin_node_executions_id"),
        Index("admin_node_executions_by_seq", "execution_pk", "seq"),
    )
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    execution_pk: Mapped[int] = mapped_column(
        ForeignKey("admin_executions.pk", ondelete="CASCADE"))
    node_id: Mapped[str] = mapped_column(String(255))
    task: Mapped[str] = mapped_column(Text)
    # The node's place in the workflow's topological order, for listing.
    position: Mapped[int] = mapped_column(Integer)
    phase: Mapped[str] = mapped_column(String(16))
    # The driver incarnation that last wrote the row: a newer one may start the node over.
    incarnation: Mapped[int] = mapped_column(Integer)
    error_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Nodes a dynamic, map or launch plan node ran inside itself (engine's node rows).
    children: Mapped[str | None] = mapped_column(Text, nullable=True)
    child_execution: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Output name -> stored form; set in the same write that makes the node SUCCEEDED.
    outputs: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Input name -> stored form, once the node started with all of them known.
    inputs: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # The execution's change seq of the row's last write (the change feed), and how many
    # of ``children`` are in each phase (JSON: phase -> count; NULL: no children), kept
    # so the feed never parses a 10,000-element map's children. Added by migration 11,
    # which fills both in for the rows written before.
    seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    child_counts: Mapped[str | None] = mapped_column(Text, nullable=True)


class NodeAttemptRow(Base):
    """One attempt of a node; ``(execution, node, attempt)`` is its key."""

    __tablename__ = "admin_node_attempts"
    __table_args__ = (
        UniqueConstraint("execution_pk", "node_id", "attempt", name="admin_node_attempts_id"),
        Index("admin_node_attempts_by_seq", "execution_pk", "seq"),
    )
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    execution_pk: Mapped[int] = mapped_column(
        ForeignKey("admin_executions.pk", ondelete="CASCADE"))
    node_id: Mapped[str] = mapped_column(String(255))
    attempt: Mapped[int] = mapped_column(Integer)
    # Epoch seconds from the clock of the worker that ran the attempt.
    started_at: Mapped[float] = mapped_column(Float)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    error_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    cache_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # Where it ran: Ray node IP and id, worker pid, GPU ids (JSON).
    worker: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Its deck document's URI in the blob store (NULL: it wrote none); added by migration 10.
    deck_uri: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Its log in the blob store (NULL: none recorded); set when the attempt starts, so a
    # running attempt's log is found. Added by migration 11, with ``seq`` (as the node's).
    log_uri: Mapped[str | None] = mapped_column(Text, nullable=True)
    seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # A cache HIT's producer (JSON {"run": ..., "node_id": ...}; NULL: not a HIT, or
    # recorded before migration 12). ``ExecutionRunRow`` tells whose execution the run was.
    cache_source: Mapped[str | None] = mapped_column(Text, nullable=True)


class ExecutionRunRow(Base):
    """A run (a driver's ``ExecutionRecord.name``, new for each driver incarnation) of an
    execution: the data catalog names producers by run, the admin by execution."""

    __tablename__ = "admin_execution_runs"
    __table_args__ = (Index("admin_execution_runs_by_execution", "execution_pk"),)
    run_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    execution_pk: Mapped[int] = mapped_column(
        ForeignKey("admin_executions.pk", ondelete="CASCADE"))


# --- schedules -----------------------------------------------------------------------


class ScheduleRow(Base):
    """Where the schedule of one launch plan name stands: the scheduler's memory, so a
    restarted scheduler resumes where the last one stopped.

    It follows one activation of one version (``launch_plan_pk`` and ``activation``); a
    new activation (another version, or the same one again) starts the ticks over from
    its ``anchor``, never before the last tick fired under the name.
    """

    __tablename__ = "admin_schedules"
    __table_args__ = (
        ForeignKeyConstraint(["project", "domain"], ["admin_domains.project", "admin_domains.id"],
                             name="admin_schedules_domain"),
    )
    project: Mapped[str] = mapped_column(String(63), primary_key=True)
    domain: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(_sortable(MAX_NAME), primary_key=True)
    launch_plan_pk: Mapped[int] = mapped_column(ForeignKey("admin_launch_plans.pk"))
    # The followed version's state_updated_at when it was seen ACTIVE: tells activations
    # apart (compared for equality only).
    activation: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # Ticks after this moment (the scheduler's clock) belong to this activation.
    anchor: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # The scheduled time of the last tick fired under the name, and its execution's name.
    last_fired_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                              nullable=True)
    last_execution: Mapped[str | None] = mapped_column(_sortable(MAX_NAME), nullable=True)


class SchedulerLeaderRow(Base):
    """The one row naming the scheduler that fires schedules, until ``expires_at`` (the
    database's clock): several admin replicas run a scheduler, one of them leads."""

    __tablename__ = "admin_scheduler_leader"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ExecutorRow(Base):
    """A live executor (a Ray actor driving executions), as it last reported itself.
    Each executor writes its own row every heartbeat and deletes it when it ends; the
    supervisor deletes the rows of executors that stopped reporting (killed)."""

    __tablename__ = "admin_executors"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    project: Mapped[str] = mapped_column(String(MAX_NAME))
    domain: Mapped[str] = mapped_column(String(MAX_NAME))
    code_uri: Mapped[str | None] = mapped_column(Text, nullable=True)
    warm: Mapped[bool] = mapped_column(Boolean)
    node_ip: Mapped[str] = mapped_column(String(64))
    pid: Mapped[int] = mapped_column(Integer)
    in_flight: Mapped[int] = mapped_column(Integer)
    completed: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


# --- notifications -------------------------------------------------------------------


class NotificationRow(Base):
    """One notification of an ended execution: the outbox of its delivery.

    Written in the transaction that ends the execution (one row per notification of its
    launch plan whose phases hold the end phase), then sent at least once by the admin's
    notifier, which claims due rows by moving ``next_attempt_at`` on (a lease: a sender
    that died is replaced when it passes) and records each attempt here.
    """

    __tablename__ = "admin_notifications"
    __table_args__ = (
        UniqueConstraint("execution_pk", "position", name="admin_notifications_id"),
        Index("admin_notifications_due", "status", "next_attempt_at"),
    )
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    execution_pk: Mapped[int] = mapped_column(
        ForeignKey("admin_executions.pk", ondelete="CASCADE"))
    # Its place in the launch plan's list of notifications.
    position: Mapped[int] = mapped_column(Integer)
    # The notification's JSON (engine.dag.spec.notification), as the launch plan had it.
    notification: Mapped[str] = mapped_column(Text)
    # The execution's terminal phase that fired it.
    phase: Mapped[str] = mapped_column(String(16))
    # The execution as it ended (JSON): what every message is made from.
    summary: Mapped[str] = mapped_column(Text)
    # PENDING (to send, or sending), SENT, or FAILED (given up).
    status: Mapped[str] = mapped_column(String(16))
    # Attempts started so far (a claim starts one).
    attempts: Mapped[int] = mapped_column(Integer)
    # PENDING: when the next attempt is due, or a claimed attempt's lease ends.
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # Why the last attempt failed (NULL once SENT, or before any attempt ended).
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # When the last attempt ended, and when one succeeded.
    attempted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                             nullable=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                        nullable=True)


# --- signals -------------------------------------------------------------------------


class SignalRow(Base):
    """A gate node of an execution (``sleep``, ``wait_for_input``, ``approve``): when it
    started waiting, and its signal once set.

    Written by the execution's driver when the gate starts waiting (so that a driver
    resuming after a restart counts the gate's duration and timeout from then), and by
    ``POST /api/v1/signals`` when the signal is set, whichever comes first; a signal
    is set once.
    """

    __tablename__ = "admin_signals"
    __table_args__ = (UniqueConstraint("execution_pk", "node_id", name="admin_signals_node"),)
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    execution_pk: Mapped[int] = mapped_column(
        ForeignKey("admin_executions.pk", ondelete="CASCADE"))
    node_id: Mapped[str] = mapped_column(String(255))
    # When the gate started waiting (NULL: not yet).
    waiting_since: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                              nullable=True)
    # The signal's value as JSON, checked against the gate's type (NULL: not set).
    value: Mapped[str | None] = mapped_column(Text, nullable=True)
    set_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
