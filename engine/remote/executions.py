"""Remote executions and their nodes, after flytekit's ``FlyteWorkflowExecution`` and
``FlyteNodeExecution``: ``id``, ``spec``, ``closure.phase``, ``is_done``,
``is_successful``, ``error``, ``inputs`` and ``outputs`` as typed Python values, and
``node_executions``.

An execution object is a snapshot: ``FlyteRemote.sync`` (or ``wait``) refreshes it in
place. Inputs and outputs are read from the admin API on first access after a sync, and
converted value by value (see :class:`~engine.remote.data.LiteralsResolver`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.dag.run.state import ExecutionPhase, NodePhase
from engine.dag.spec import Identifier
from engine.dag.spec.labels import Annotations, Labels, RawOutputDataConfig
from engine.errors import ErrorKind, OutputsUnavailableError
from engine.remote.data import LiteralsResolver
from engine.remote.entities import parse_time
from engine.types.interface import PythonInterface

# flytekit's name of the phases of an execution.
WorkflowExecutionPhase = ExecutionPhase
_TERMINAL = frozenset({ExecutionPhase.SUCCEEDED, ExecutionPhase.FAILED,
                       ExecutionPhase.ABORTED, ExecutionPhase.TIMED_OUT})

# Read the inputs or outputs ("inputs" or "outputs") of an execution or of a node.
ExecutionReader = Callable[["FlyteWorkflowExecution", str], LiteralsResolver]
NodeReader = Callable[["FlyteNodeExecution", str], LiteralsResolver]


@dataclass(frozen=True)
class WorkflowExecutionIdentifier:
    """Names an execution: ``project/domain/name``."""

    project: str
    domain: str
    name: str

    @property
    def path(self) -> str:
        return f"{self.project}/{self.domain}/{self.name}"

    def __str__(self) -> str:
        return self.path

    @classmethod
    def of(cls, data: dict[str, Any]) -> WorkflowExecutionIdentifier:
        return cls(data["project"], data["domain"], data["name"])


@dataclass(frozen=True)
class NodeExecutionIdentifier:
    node_id: str
    execution_id: WorkflowExecutionIdentifier


@dataclass(frozen=True)
class ExecutionFailure:
    """Why an execution, node or attempt failed.

    Attributes:
        kind: USER (the code's doing, a timeout included) or SYSTEM (infrastructure).
        message: what happened, with the user code's traceback.
    """

    kind: ErrorKind
    message: str

    @classmethod
    def of(cls, data: dict[str, Any] | None) -> ExecutionFailure | None:
        if not data:
            return None
        return cls(ErrorKind(data["kind"]), str(data["message"]))

    def __str__(self) -> str:
        return f"{self.kind.value} error: {self.message}"


def _ident(data: dict[str, Any] | None) -> Identifier | None:
    return Identifier.from_dict(data) if data else None


def _exec_ident(data: dict[str, Any] | None) -> WorkflowExecutionIdentifier | None:
    return WorkflowExecutionIdentifier.of(data) if data else None


def _duration(seconds: float | None) -> dt.timedelta | None:
    return dt.timedelta(seconds=seconds) if seconds is not None else None


@dataclass(frozen=True)
class ExecutionSpec:
    """What was launched, and how."""

    launch_plan: Identifier | None
    workflow: Identifier | None
    task: Identifier | None
    inputs: dict[str, Any]  # the JSON literals the launch gave
    overwrite_cache: bool
    mode: str  # MANUAL, RELAUNCH, RECOVER or SCHEDULED
    scheduled_at: dt.datetime | None
    relaunched_from: WorkflowExecutionIdentifier | None
    recovered_from: WorkflowExecutionIdentifier | None
    code_uri: str | None
    timeout: float | None  # seconds it may run; None: no limit
    # As flytekit's: ``spec.labels.values`` (the launch plan's and the launch's).
    labels: Labels = Labels()
    annotations: Annotations = Annotations()
    # Where its raw outputs go (None: the blob store's default place).
    raw_output_data_config: RawOutputDataConfig | None = None

    @classmethod
    def of(cls, data: dict[str, Any]) -> ExecutionSpec:
        raw = data.get("raw_output_data_config")
        return cls(_ident(data.get("launch_plan")), _ident(data.get("workflow")),
                   _ident(data.get("task")), dict(data.get("inputs") or {}),
                   bool(data.get("overwrite_cache")), str(data.get("mode", "MANUAL")),
                   parse_time(data.get("scheduled_at")),
                   _exec_ident(data.get("relaunched_from")),
                   _exec_ident(data.get("recovered_from")), data.get("code_uri"),
                   data.get("timeout"), Labels(dict(data.get("labels") or {})),
                   Annotations(dict(data.get("annotations") or {})),
                   RawOutputDataConfig(raw["output_location_prefix"]) if raw else None)


@dataclass(frozen=True)
class ExecutionClosure:
    """Where an execution stands."""

    phase: ExecutionPhase
    created_at: dt.datetime | None
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    duration: dt.timedelta | None
    error: ExecutionFailure | None
    abort_cause: str | None  # why it was terminated (ABORTED)
    driver_restarts: int  # lost drivers replaced so far

    @classmethod
    def of(cls, data: dict[str, Any]) -> ExecutionClosure:
        return cls(ExecutionPhase(data["phase"]), parse_time(data.get("created_at")),
                   parse_time(data.get("started_at")), parse_time(data.get("ended_at")),
                   _duration(data.get("duration_s")), ExecutionFailure.of(data.get("error")),
                   data.get("abort_cause"), int(data.get("driver_restarts") or 0))


@dataclass(frozen=True)
class TaskAttempt:
    """One attempt of a node (flytekit's task execution)."""

    attempt: int  # 1 for the first
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    duration: dt.timedelta | None
    outcome: NodePhase | None  # SUCCEEDED, FAILED or TIMED_OUT once over
    error: ExecutionFailure | None
    cache_status: str | None  # DISABLED, HIT, MISS, OVERWRITTEN, FAILED
    worker: dict[str, Any]  # where it ran
    # Its deck document in the blob store (a successful attempt of a task with
    # enable_deck), and the admin API's path that serves it (None for a child's).
    deck_uri: str | None = None
    deck_url: str | None = None

    @classmethod
    def of(cls, data: dict[str, Any]) -> TaskAttempt:
        outcome = data.get("outcome")
        return cls(int(data["attempt"]), parse_time(data.get("started_at")),
                   parse_time(data.get("ended_at")), _duration(data.get("duration_s")),
                   NodePhase(outcome) if outcome else None, ExecutionFailure.of(data.get("error")),
                   data.get("cache_status"), dict(data.get("worker") or {}),
                   data.get("deck_uri"), data.get("deck_url"))


@dataclass(frozen=True)
class NodeExecutionClosure:
    phase: NodePhase
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    duration: dt.timedelta | None
    error: ExecutionFailure | None
    cache_status: str | None  # of the last attempt
    # The last attempt's deck document in the blob store (flytekit's ``deck_uri``).
    deck_uri: str | None = None


class FlyteNodeExecution:
    """One node of an execution: its phase, attempts, error, inputs and outputs.

    The nodes a dynamic, map or launch plan node ran inside itself are its
    ``children``; their inputs and outputs are not recorded apart.
    """

    def __init__(self, node_id: NodeExecutionIdentifier, task: str,
                 closure: NodeExecutionClosure, attempts: list[TaskAttempt],
                 children: list[FlyteNodeExecution], child_execution: str | None,
                 reader: NodeReader | None) -> None:
        self.id = node_id
        self.task = task  # the name of the task it ran ("" for a branch)
        self.closure = closure
        self.attempts = attempts
        self.children = children
        self.child_execution = child_execution  # a launch plan node's execution
        self._reader = reader
        self._data: dict[str, LiteralsResolver] = {}
        self._json: dict[str, Any] = {}

    def to_json(self) -> dict[str, Any]:
        """The admin API's JSON of this node, as synced."""
        return dict(self._json)

    @property
    def node_id(self) -> str:
        return self.id.node_id

    @property
    def task_executions(self) -> list[TaskAttempt]:
        """flytekit's name of :attr:`attempts`."""
        return self.attempts

    @property
    def is_done(self) -> bool:
        return self.closure.phase.terminal

    @property
    def is_successful(self) -> bool:
        return self.closure.phase.has_outputs

    @property
    def error(self) -> ExecutionFailure | None:
        return self.closure.error

    def _read(self, key: str) -> LiteralsResolver:
        if self._reader is None:
            raise OutputsUnavailableError(
                f"node '{self.node_id}' of execution {self.id.execution_id} ran inside "
                f"another node: the admin API records no {key} of its own")
        if key not in self._data:
            self._data[key] = self._reader(self, key)
        return self._data[key]

    @property
    def inputs(self) -> LiteralsResolver:
        """Its inputs (empty until it started)."""
        return self._read("inputs")

    @property
    def outputs(self) -> LiteralsResolver:
        """Its outputs, once it SUCCEEDED (or was RECOVERED)."""
        if not self.is_successful:
            raise OutputsUnavailableError(
                f"node '{self.node_id}' of execution {self.id.execution_id} is "
                f"{self.closure.phase.value}: it has outputs once it SUCCEEDED")
        return self._read("outputs")

    def __repr__(self) -> str:
        return f"FlyteNodeExecution({self.node_id!r}, {self.closure.phase.value})"

    @classmethod
    def of(cls, data: dict[str, Any], execution: WorkflowExecutionIdentifier,
           reader: NodeReader | None) -> FlyteNodeExecution:
        """A node from the admin API's JSON (``reader`` reads its data: None for a child)."""
        attempts = [TaskAttempt.of(a) for a in data.get("attempts") or ()]
        node_id = data["id"]["node_id"] if "id" in data else data["node_id"]
        ended = attempts[-1].ended_at if attempts else None
        started = attempts[0].started_at if attempts else None
        closure = NodeExecutionClosure(
            NodePhase(data["phase"]), parse_time(data.get("started_at")) or started,
            parse_time(data.get("ended_at")) or ended,
            _duration(data.get("duration_s")) if "duration_s" in data
            else (ended - started if started and ended else None),
            ExecutionFailure.of(data.get("error")) or next(
                (a.error for a in reversed(attempts) if a.error), None),
            data.get("cache_status") or (attempts[-1].cache_status if attempts else None),
            data.get("deck_uri") or (attempts[-1].deck_uri if attempts else None))
        children = [cls.of(c, execution, None) for c in data.get("children") or ()]
        node = cls(NodeExecutionIdentifier(node_id, execution), str(data.get("task", "")),
                   closure, attempts, children, data.get("child_execution"), reader)
        node._json = data
        return node


class FlyteWorkflowExecution:
    """An execution of a launch plan, workflow or task on the control plane.

    ``closure.phase`` says where it stands; once ``is_done``, ``is_successful`` or
    ``error`` says how it ended; ``outputs["o0"]`` reads an output as a Python value.
    ``node_executions`` (by node id) is filled by ``FlyteRemote.sync(execution,
    sync_nodes=True)`` and by ``wait``.
    """

    def __init__(self, data: dict[str, Any], reader: ExecutionReader,
                 flyte_entity: Any = None, python_interface: PythonInterface | None = None
                 ) -> None:
        self.id = WorkflowExecutionIdentifier.of(data["id"])
        self.spec = ExecutionSpec.of(data["spec"])
        self.closure = ExecutionClosure.of(data["closure"])
        # The launch plan, workflow or task it runs, once fetched.
        self.flyte_entity = flyte_entity
        # The Python types of its workflow's or task's inputs and outputs, when known
        # from local code (else guessed from the fetched entity).
        self.python_interface = python_interface
        self.node_executions: dict[str, FlyteNodeExecution] = {}
        self._reader = reader
        self._data: dict[str, LiteralsResolver] = {}
        self._json = data

    def _update(self, data: dict[str, Any]) -> None:
        """The admin API's newer view of this execution; data is read again."""
        self.spec = ExecutionSpec.of(data["spec"])
        self.closure = ExecutionClosure.of(data["closure"])
        self._data = {}
        self._json = data

    def to_json(self) -> dict[str, Any]:
        """The admin API's JSON of this execution, as last synced."""
        return dict(self._json)

    @property
    def is_done(self) -> bool:
        return self.closure.phase in _TERMINAL

    @property
    def is_successful(self) -> bool:
        return self.closure.phase is ExecutionPhase.SUCCEEDED

    @property
    def error(self) -> ExecutionFailure | None:
        """Why it FAILED or TIMED_OUT (None otherwise; see ``closure.abort_cause`` for an
        ABORTED one)."""
        return self.closure.error

    @property
    def flyte_workflow(self) -> Any:
        """The launch plan's or workflow's :class:`~engine.remote.FlyteWorkflow`."""
        return getattr(self.flyte_entity, "flyte_workflow", None) or (
            self.flyte_entity if hasattr(self.flyte_entity, "nodes") else None)

    def _read(self, key: str) -> LiteralsResolver:
        if key not in self._data:
            self._data[key] = self._reader(self, key)
        return self._data[key]

    @property
    def inputs(self) -> LiteralsResolver:
        """Its inputs as launched (the JSON literals it was given, as Python values)."""
        return self._read("inputs")

    @property
    def outputs(self) -> LiteralsResolver:
        """Its outputs by name; OutputsUnavailableError before it SUCCEEDED."""
        if not self.is_successful:
            if not self.is_done:
                why = "wait for it first (FlyteRemote.wait)"
            elif self.error is not None:
                why = f"it ended with a {self.error}"
            else:
                why = f"it ended: {self.closure.abort_cause or 'no outputs'}"
            raise OutputsUnavailableError(
                f"execution {self.id} is {self.closure.phase.value}, so it has no outputs; "
                f"{why}")
        return self._read("outputs")

    def __repr__(self) -> str:
        return f"FlyteWorkflowExecution({self.id}, {self.closure.phase.value})"
