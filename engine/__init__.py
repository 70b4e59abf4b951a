"""Flyray: Flyte-style typed, cached, versioned workflows on Ray.

Switch ``from flytekit import ...`` to ``from engine import ...``.

The names below are imported on first use (PEP 562), so that ``import engine`` and
defining tasks and workflows stay cheap: ``flyray --help`` and ``flyray run FILE NAME
--help`` never import Ray, and a user's module pays only for the kinds it uses. Type
transformers are registered by ``engine.types``, which every module that converts values
imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.core.base_sql_task import SQLTask
    from engine.core.base_task import TaskMetadata
    from engine.core.container_task import ContainerTask
    from engine.core.context_manager import FlyteContext, FlyteContextManager
    from engine.core.dynamic import DynamicTask, dynamic
    from engine.core.eager import EagerTask, eager
    from engine.core.gate import approve, sleep, wait_for_input
    from engine.core.image_spec import ImageSpec
    from engine.core.imperative import Workflow
    from engine.core.launch_plan import LaunchPlan
    from engine.core.map_task import MapTask, map_task
    from engine.core.node_creation import create_node
    from engine.core.notification import Email, PagerDuty, Slack, Webhook, WorkflowExecutionPhase
    from engine.core.reference import reference_launch_plan, reference_task
    from engine.core.resources import Resources, Secret
    from engine.core.schedule import CronSchedule, FixedRate
    from engine.core.task import PythonFunctionTask, task
    from engine.core.workflow import PythonFunctionWorkflow, workflow
    from engine.dag.conditional import conditional
    from engine.dag.run.context import ExecutionParameters, current_context
    from engine.dag.spec import WorkflowFailurePolicy
    from engine.dag.spec.labels import Annotations, Labels, RawOutputDataConfig
    from engine.deck import Deck
    from engine.extras.tasks.shell import ShellTask
    from engine.models.core.types import BlobType
    from engine.models.literals import Blob, BlobMetadata, Literal, Scalar
    from engine.models.types import LiteralType, StructuredDatasetType
    from engine.types.hashing import HashMethod
    from engine.types.interface import kwtypes

# Public name -> the module that defines it; the same pairs as the imports above (a test
# checks that every name of __all__ resolves).
_WHERE: dict[str, str] = {
    "Annotations": "engine.dag.spec.labels",
    "Blob": "engine.models.literals",
    "BlobMetadata": "engine.models.literals",
    "BlobType": "engine.models.core.types",
    "ContainerTask": "engine.core.container_task",
    "CronSchedule": "engine.core.schedule",
    "Deck": "engine.deck",
    "DynamicTask": "engine.core.dynamic",
    "EagerTask": "engine.core.eager",
    "Email": "engine.core.notification",
    "ExecutionParameters": "engine.dag.run.context",
    "FixedRate": "engine.core.schedule",
    "FlyteContext": "engine.core.context_manager",
    "FlyteContextManager": "engine.core.context_manager",
    "HashMethod": "engine.types.hashing",
    "ImageSpec": "engine.core.image_spec",
    "Labels": "engine.dag.spec.labels",
    "LaunchPlan": "engine.core.launch_plan",
    "Literal": "engine.models.literals",
    "LiteralType": "engine.models.types",
    "MapTask": "engine.core.map_task",
    "PagerDuty": "engine.core.notification",
    "PythonFunctionTask": "engine.core.task",
    "PythonFunctionWorkflow": "engine.core.workflow",
    "RawOutputDataConfig": "engine.dag.spec.labels",
    "Resources": "engine.core.resources",
    "SQLTask": "engine.core.base_sql_task",
    "Scalar": "engine.models.literals",
    "Secret": "engine.core.resources",
    "ShellTask": "engine.extras.tasks.shell",
    "Slack": "engine.core.notification",
    "StructuredDatasetType": "engine.models.types",
    "TaskMetadata": "engine.core.base_task",
    "Webhook": "engine.core.notification",
    "Workflow": "engine.core.imperative",
    "WorkflowExecutionPhase": "engine.core.notification",
    "WorkflowFailurePolicy": "engine.dag.spec",
    "approve": "engine.core.gate",
    "conditional": "engine.dag.conditional",
    "create_node": "engine.core.node_creation",
    "current_context": "engine.dag.run.context",
    "dynamic": "engine.core.dynamic",
    "eager": "engine.core.eager",
    "kwtypes": "engine.types.interface",
    "map_task": "engine.core.map_task",
    "reference_launch_plan": "engine.core.reference",
    "reference_task": "engine.core.reference",
    "sleep": "engine.core.gate",
    "task": "engine.core.task",
    "wait_for_input": "engine.core.gate",
    "workflow": "engine.core.workflow",
}

__all__ = [
    "Annotations",
    "Blob",
    "BlobMetadata",
    "BlobType",
    "ContainerTask",
    "CronSchedule",
    "Deck",
    "DynamicTask",
    "EagerTask",
    "Email",
    "ExecutionParameters",
    "FixedRate",
    "FlyteContext",
    "FlyteContextManager",
    "HashMethod",
    "ImageSpec",
    "Labels",
    "LaunchPlan",
    "Literal",
    "LiteralType",
    "MapTask",
    "PagerDuty",
    "PythonFunctionTask",
    "PythonFunctionWorkflow",
    "RawOutputDataConfig",
    "Resources",
    "SQLTask",
    "Scalar",
    "Secret",
    "ShellTask",
    "Slack",
    "StructuredDatasetType",
    "TaskMetadata",
    "Webhook",
    "Workflow",
    "WorkflowExecutionPhase",
    "WorkflowFailurePolicy",
    "approve",
    "conditional",
    "create_node",
    "current_context",
    "dynamic",
    "eager",
    "kwtypes",
    "map_task",
    "reference_launch_plan",
    "reference_task",
    "sleep",
    "task",
    "wait_for_input",
    "workflow",
]


def __getattr__(name: str) -> Any:
    """The public object ``name``, imported from its module on first use."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute '{name}'; its public names "
                             "are listed in engine.__all__")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups find it without calling here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
