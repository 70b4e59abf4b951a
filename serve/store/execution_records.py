"""What the admin store takes and returns about executions: plain frozen data, never rows.

Three audiences: the API (``Execution``, ``NodeExecution``), the per-execution driver
(``DriverClaim`` and the events it writes), and the supervisor that starts drivers and
restarts lost ones (``DriverLease``, ``LaunchTicket``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from engine.dag.run.state import ExecutionPhase, NodePhase, NodeRecord, NodeRow
from engine.dag.spec import Identifier

ACTIVE_PHASES = (ExecutionPhase.QUEUED, ExecutionPhase.RUNNING)
TERMINAL_PHASES = tuple(p for p in ExecutionPhase if p not in ACTIVE_PHASES)


class ExecutionMode(str, Enum):
    """How an execution came to be (Flyte's ExecutionMetadata.mode).

    SCHEDULED: the scheduler made it for one tick of a launch plan's schedule (the
    execution's ``scheduled_at``).
    """

    MANUAL = "MANUAL"
    RELAUNCH = "RELAUNCH"
    RECOVER = "RECOVER"
    SCHEDULED = "SCHEDULED"


class TargetKind(str, Enum):
    """What a create request names: a launch plan, a workflow or a task."""

    LAUNCH_PLAN = "launch_plan"
    WORKFLOW = "workflow"
    TASK = "task"


@dataclass(frozen=True)
class ExecutionId:
    project: str
    domain: str
    name: str

    def __str__(self) -> str:
        return f"{self.project}/{self.domain}/{self.name}"

    def to_dict(self) -> dict[str, str]:
        return {"project": self.project, "domain": self.domain, "name": self.name}


@dataclass(frozen=True)
class ExecutionRequest:
    """A request to launch, as the client sent it (before defaults and fixed inputs).

    Attributes:
        name: the execution's name; None: the server picks one.
        kind, entity, version: what to run; ``version`` None for a launch plan means
            its latest registered version (as flytekit's ``fetch_launch_plan``).
        inputs: input name -> JSON literal.
        timeout_s: seconds the execution may run before it ends TIMED_OUT (None: no
            limit).
        labels, annotations: added to (or overriding) the launch plan's.
        raw_output_prefix: where its raw outputs go (None: the launch plan's, else the
            blob store's default place); it must lie inside the blob store.
    """

    project: str
    domain: str
    name: str | None
    kind: TargetKind
    entity: str
    version: str | None
    inputs: dict[str, Any] = field(default_factory=dict)
    overwrite_cache: bool = False
    timeout_s: float | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    raw_output_prefix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The form a repeated request with the same name is compared in."""
        form: dict[str, Any] = {"project": self.project, "domain": self.domain,
                self.kind.value: {"name": self.entity, "version": self.version},
                "inputs": self.inputs, "overwrite_cache": self.overwrite_cache}
        # Each absent unless given, as in requests stored before it existed.
        if self.timeout_s is not None:
            form["timeout"] = self.timeout_s
        if self.labels:
            form["labels"] = self.labels
        if self.annotations:
            form["annotations"] = self.annotations
        if self.raw_output_prefix is not None:
            form["raw_output_data_config"] = {"output_location_prefix":
                                              self.raw_output_prefix}
        return form


@dataclass(frozen=True)
class ErrorInfo:
    kind: str  # USER or SYSTEM
    message: str


@dataclass(frozen=True)
class Execution:
    """One execution and where it stands.

    ``launch_plan`` is set for launch plans and for workflows (which run their default
    launch plan), ``workflow`` for both too; a task runs alone (``task`` only).
    """

    id: ExecutionId
    launch_plan: Identifier | None
    workflow: Identifier | None
    task: Identifier | None
    inputs: dict[str, Any]
    overwrite_cache: bool
    mode: ExecutionMode
    relaunched_from: ExecutionId | None
    recovered_from: ExecutionId | None
    code_uri: str | None
    phase: ExecutionPhase
    error: ErrorInfo | None
    abort_cause: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    driver_restarts: int
    # The workflow's outputs once SUCCEEDED: output name -> stored form
    # ({"inline": <json>} or {"uri": ..., "format": "json"}, see engine.catalog.literals).
    outputs: dict[str, Any] | None
    # SCHEDULED: the tick it was made for (UTC).
    scheduled_at: dt.datetime | None = None
    # Seconds it may run (from started_at) before it ends TIMED_OUT; None: no limit.
    timeout_s: float | None = None
    # Its labels and annotations: the launch plan's overlaid by the request's.
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    # The URI its raw outputs go under (its project, domain and name below it); None:
    # the blob store's default place.
    raw_output_prefix: str | None = None


@dataclass(frozen=True)
class ExecutionFilters:
    """Filters of an execution listing (all optional, combined with AND)."""

    phases: tuple[ExecutionPhase, ...] = ()
    launch_plan: str | None = None  # launch plan name
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None
    # (key, value) labels the execution must all have.
    labels: tuple[tuple[str, str], ...] = ()
    workflow: str | None = None  # name of the workflow it runs
    version: str | None = None  # version of the workflow it runs (or of its task alone)


@dataclass(frozen=True)
class CacheSource:
    """Who computed the outputs a cache HIT took: the run (the engine's execution name,
    one per driver of a remote execution) and its node. ``execution`` is the admin's
    execution that run belonged to, resolved when read; None when written, and when the
    run is not one of this admin's (a local run, or a sub-workflow run inside a node)."""

    run: str
    node_id: str
    execution: ExecutionId | None = None


@dataclass(frozen=True)
class NodeAttempt:
    """One attempt of a node; times are epoch seconds from the worker's clock. A running
    attempt has no ``outcome`` (nor ``ended_at``) yet."""

    attempt: int
    started_at: float
    ended_at: float | None
    outcome: NodePhase | None
    error_kind: str | None
    error: str | None
    cache_status: str | None
    worker: dict[str, Any]
    # Its deck document in the blob store (a successful attempt of a task with
    # enable_deck), as the worker wrote it.
    deck_uri: str | None = None
    # Its log in the blob store (engine.logs), known from the attempt's start; None: none
    # recorded (an attempt recorded before logs were kept).
    log_uri: str | None = None
    # A HIT's producer (None for any other cache status).
    cache_source: CacheSource | None = None


@dataclass(frozen=True)
class NodeExecution:
    execution: ExecutionId
    node_id: str
    task: str
    phase: NodePhase
    position: int
    error: ErrorInfo | None
    attempts: tuple[NodeAttempt, ...]
    # What a dynamic, map or launch plan node ran inside itself, in its last attempt.
    children: dict[str, NodeRecord]
    child_execution: str | None
    # Output name -> stored form, once SUCCEEDED or RECOVERED.
    outputs: dict[str, Any] | None
    # Input name -> stored form, once the node started with all of them known.
    inputs: dict[str, Any] | None = None


# --- the driver's side ------------------------------------------------------------------


@dataclass(frozen=True)
class DriverClaim:
    """What a driver process needs to (re)start an execution it has claimed.

    Attributes:
        incarnation: this driver's number; every write it makes carries it, and a write
            from an older incarnation is refused (fencing).
        workflow_spec, task_spec: the registered spec (JSON) of what runs.
        done: outputs (stored forms) of this execution's nodes that SUCCEEDED or were
            RECOVERED before: a resuming driver does not run them again.
        offered: outputs of nodes that succeeded in the execution this one recovers.
        attempts: how many attempts each node has recorded already.
        claimed_at: when it was claimed, by the database's clock (as ``started_at``):
            the time an execution that started before has run already is the difference.
    """

    execution: Execution
    incarnation: int
    workflow_spec: dict[str, Any] | None
    task_spec: dict[str, Any] | None
    done: dict[str, dict[str, Any]]
    offered: dict[str, dict[str, Any]]
    attempts: dict[str, int]
    claimed_at: dt.datetime | None = None


@dataclass(frozen=True)
class ExecutionStarted:
    """The driver is running the execution's nodes, as the run named ``run`` (its
    ``ExecutionRecord.name``: the name the data catalog records as a producer); None
    where the run's name is not told."""

    run: str | None = None


@dataclass(frozen=True)
class NodeEvent:
    """A node's phase (and, when SUCCEEDED or RECOVERED, its stored outputs; the first
    time they are known after it started, its stored inputs)."""

    node_id: str
    task: str
    position: int
    phase: NodePhase
    error_kind: str | None = None
    error: str | None = None
    children: list[NodeRow] | None = None
    child_execution: str | None = None
    outputs: dict[str, Any] | None = None
    inputs: dict[str, Any] | None = None


@dataclass(frozen=True)
class AttemptEvent:
    """An attempt of a node that started (no outcome yet) or ended; ``(execution,
    node_id, attempt.attempt)`` is its key."""

    node_id: str
    attempt: NodeAttempt


Event = ExecutionStarted | NodeEvent | AttemptEvent


# --- the supervisor's side ---------------------------------------------------------------


@dataclass(frozen=True)
class LaunchTicket:
    """A driver to start: the execution, which launch it is, its code bundle."""

    execution: ExecutionId
    launch: int
    code_uri: str | None


@dataclass(frozen=True)
class DriverLease:
    """Liveness of a launched, unfinished execution's driver, by the database's clock."""

    execution: ExecutionId
    launch: int
    launched_at: dt.datetime | None
    heartbeat_at: dt.datetime | None
    now: dt.datetime
