"""The control plane from Python, as flytekit's ``flytekit.remote``: switch
``from flytekit.remote import FlyteRemote`` to ``from engine.remote import FlyteRemote``.

See :class:`FlyteRemote`; the page "FlyteRemote" of the documentation has a complete
example.
"""

from __future__ import annotations

from engine.remote.data import LiteralsResolver
from engine.remote.entities import EntityClosure, FlyteLaunchPlan, FlyteTask, FlyteWorkflow
from engine.remote.executions import (
    ExecutionClosure,
    ExecutionFailure,
    ExecutionSpec,
    FlyteNodeExecution,
    FlyteWorkflowExecution,
    NodeExecutionClosure,
    NodeExecutionIdentifier,
    TaskAttempt,
    WorkflowExecutionIdentifier,
    WorkflowExecutionPhase,
)
from engine.remote.logs import TaskLog
from engine.remote.projects import FlyteProject
from engine.remote.registration import Registration, RegistrationError
from engine.remote.remote import FlyteRemote
from engine.remote.signals import Signal

__all__ = [
    "EntityClosure",
    "ExecutionClosure",
    "ExecutionFailure",
    "ExecutionSpec",
    "FlyteLaunchPlan",
    "FlyteNodeExecution",
    "FlyteProject",
    "FlyteRemote",
    "FlyteTask",
    "FlyteWorkflow",
    "FlyteWorkflowExecution",
    "LiteralsResolver",
    "NodeExecutionClosure",
    "NodeExecutionIdentifier",
    "Registration",
    "RegistrationError",
    "Signal",
    "TaskLog",
    "TaskAttempt",
    "WorkflowExecutionIdentifier",
    "WorkflowExecutionPhase",
]
