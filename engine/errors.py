"""Every error Flyray raises, in one hierarchy rooted at :class:`FlyrayError`.

Messages say what happened, where (workflow, node, task, input), what was expected
and how to fix it. User-code failures and system failures are told apart by
:class:`ErrorKind` wherever an execution fails.
"""

from __future__ import annotations

from enum import Enum
from typing import Any


class ErrorKind(str, Enum):
    """Who is to blame for a failed attempt."""

    USER = "USER"  # the task's code raised, returned a wrong value, or ran past its timeout
    SYSTEM = "SYSTEM"  # the worker process or node died, or Ray failed


class FlyrayError(Exception):
    """Base class of all Flyray errors."""


class ConfigError(ValueError, FlyrayError):
    """Configuration (environment, config file) is invalid."""


class ContainerRuntimeError(ConfigError):
    """The Ray node running a ContainerTask has no usable container runtime (podman or
    docker): a configuration problem of the cluster, not of the task's code."""


class InterfaceError(TypeError, FlyrayError):
    """A task or workflow signature cannot be turned into a typed interface."""


class CompileError(FlyrayError):
    """A workflow cannot be compiled into a spec."""


class BindingError(TypeError, CompileError):
    """A node input is unknown, missing, or bound to a value of the wrong type."""


class PromiseMisuseError(TypeError, CompileError):
    """A promise (a value known only at run time) was used as a Python value."""


class SpecError(ValueError, FlyrayError):
    """A serialized spec is malformed or inconsistent (dangling reference, cycle...)."""


class InputValueError(TypeError, FlyrayError):
    """A value given for a workflow or task input does not match its declared type."""


class NotYetSupportedError(NotImplementedError, FlyrayError):
    """A flytekit name that exists in Flyray's API but is not implemented yet."""

    def __init__(self, feature: str) -> None:
        super().__init__(
            f"{feature} is not implemented in Flyray yet; the name exists so that flytekit "
            "code imports unchanged, but using it cannot work until it is implemented."
        )


class ExecutionError(FlyrayError):
    """An execution could not run to success."""


class ExecutionAbortedError(ExecutionError):
    """The execution was stopped on request (a remote execution terminated by a user).

    Attributes:
        cause: why it was stopped, as the requester gave it.
    """

    def __init__(self, cause: str) -> None:
        self.cause = cause
        super().__init__(cause)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.cause,))


class ResourceRequestError(ExecutionError):
    """A node requests resources that no node of the Ray cluster has."""


class NodeFailedError(ExecutionError):
    """A node failed its last attempt, so the workflow failed.

    Attributes:
        workflow: name of the workflow.
        node_id: id of the failed node in the workflow.
        task: name of the node's task.
        attempts: how many attempts were made.
        kind: USER or SYSTEM.
        cause: the error message of the last attempt, with the user code's traceback.
    """

    def __init__(
        self, workflow: str, node_id: str, task: str, attempts: int, kind: ErrorKind, cause: str
    ) -> None:
        self.workflow = workflow
        self.node_id = node_id
        self.task = task
        self.attempts = attempts
        self.kind = kind
        self.cause = cause
        plural = "attempt" if attempts == 1 else "attempts"
        super().__init__(
            f"workflow '{workflow}' failed: node '{node_id}' (task '{task}') failed after "
            f"{attempts} {plural} with a {kind.value} error:\n{cause}"
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (
            type(self),
            (self.workflow, self.node_id, self.task, self.attempts, self.kind, self.cause),
        )


class AttemptError(FlyrayError):
    """Raised inside a worker when one attempt of a task fails; the driver records it.

    Attributes:
        kind: USER or SYSTEM.
        message: the error with the user code's traceback (engine frames removed).
        timed_out: the attempt was stopped by the task's timeout.
        start, end: wall-clock bounds of the attempt in the worker (epoch seconds).
    """

    def __init__(
        self, kind: ErrorKind, message: str, timed_out: bool, start: float, end: float
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.timed_out = timed_out
        self.start = start
        self.end = end
        # The user raised FlyteRecoverableException: worth retrying beyond ``retries``.
        self.recoverable = False
        # Records of what the node ran inside itself (dynamic, map, launch plan nodes).
        self.children: list[Any] = []
        self.child_execution: str | None = None

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.kind, self.message, self.timed_out, self.start, self.end),
                {"recoverable": self.recoverable, "children": self.children,
                 "child_execution": self.child_execution})


class ReferenceEntityError(FlyrayError):
    """A ``reference_task`` or ``reference_launch_plan`` node could not run its registered
    entity: it is not registered, its interface is not the stub's, the admin API does not
    answer or refused the launch.

    Attributes:
        kind: USER or SYSTEM: how the node's attempt is recorded.
    """

    def __init__(self, message: str, kind: ErrorKind = ErrorKind.USER) -> None:
        super().__init__(message)
        self.kind = kind

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (str(self), self.kind))


class ChildExecutionError(ReferenceEntityError):
    """The execution a reference node launched ended without success; ``kind`` and the
    message are the child's.

    Attributes:
        execution: the child execution's name.
        phase: how it ended (FAILED, ABORTED, TIMED_OUT).
    """

    def __init__(self, message: str, kind: ErrorKind, execution: str, phase: str) -> None:
        super().__init__(message, kind)
        self.execution = execution
        self.phase = phase

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (str(self), self.kind, self.execution, self.phase))


class StorageError(FlyrayError):
    """The blob store cannot be read or written (missing path or bucket, no access,
    unreachable endpoint); the message names the URI and the cause."""


class EntityNotFoundError(LookupError, FlyrayError):
    """The admin API holds no such task, workflow, launch plan (version) or execution."""


class WaitTimeoutError(TimeoutError, FlyrayError):
    """Waiting for a remote execution gave up before it ended (the execution runs on)."""


class OutputsUnavailableError(FlyrayError):
    """A remote execution's outputs were asked for while it runs, or after it failed."""


class DataError(ValueError, FlyrayError):
    """A value does not fit its declared data type (missing file, wrong columns...)."""


class OpaqueTypeWarning(UserWarning):
    """A type no transformer knows is pickled: the engine cannot check or show its values."""


class CatalogError(FlyrayError):
    """The data catalog's database cannot be opened, read or written."""


class SecretError(FlyrayError):
    """A secret was not requested by the task or is not available where it runs."""


class MapTaskError(ExecutionError):
    """More elements of a map task failed than its min_success_ratio allows."""
