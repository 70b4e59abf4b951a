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
    from engine.core.container_task import ContainerTask
    from engine.core.dynamic import DynamicTask, dynamic
    from engine.core.eager import EagerTask, eager
    from engine.core.image_spec import ImageSpec
    from engine.core.imperative import Workflow
    from engine.core.launch_plan import LaunchPlan
    from engine.core.map_task import MapTask, map_task
    from engine.core.node_creation import create_node
    from engine.core.reference import reference_launch_plan, reference_task
    from engine.core.resources import Resources, Secret
    from engine.core.schedule import CronSchedule, FixedRate
    from engine.core.task import PythonFunctionTask, task
    from engine.core.workflow import PythonFunctionWorkflow, workflow
    from engine.dag.conditional import conditional
    from engine.dag.run.context import ExecutionParameters, current_context
    from engine.dag.spec import WorkflowFailurePolicy
    from engine.dag.spec.labels import Annotations, Labels, RawOutputDataConfig
    from engine.extras.tasks.shell import ShellTask
    from engine.types.hashing import HashMethod
    from engine.types.interface import kwtypes

# Public name -> the module that defines it; the same pairs as the imports above (a test
# checks that every name of __all__ resolves).
_WHERE: dict[str, str] = {
    "Annotations": "engine.dag.spec.labels",
    "ContainerTask": "engine.core.container_task",
    "CronSchedule": "engine.core.schedule",
    "DynamicTask": "engine.core.dynamic",
    "EagerTask": "engine.core.eager",
    "ExecutionParameters": "engine.dag.run.context",
    "FixedRate": "engine.core.schedule",
    "HashMethod": "engine.types.hashing",
    "ImageSpec": "engine.core.image_spec",
    "LaunchPlan": "engine.core.launch_plan",
    "Labels": "engine.dag.spec.labels",
    "MapTask": "engine.core.map_task",
    "PythonFunctionTask": "engine.core.task",
    "PythonFunctionWorkflow": "engine.core.workflow",
    "RawOutputDataConfig": "engine.dag.spec.labels",
    "Resources": "engine.core.resources",
    "Secret": "engine.core.resources",
    "ShellTask": "engine.extras.tasks.shell",
    "Workflow": "engine.core.imperative",
    "WorkflowFailurePolicy": "engine.dag.spec",
    "conditional": "engine.dag.conditional",
    "create_node": "engine.core.node_creation",
    "current_context": "engine.dag.run.context",
    "dynamic": "engine.core.dynamic",
    "eager": "engine.core.eager",
    "kwtypes": "engine.types.interface",
    "map_task": "engine.core.map_task",
    "reference_launch_plan": "engine.core.reference",
    "reference_task": "engine.core.reference",
    "task": "engine.core.task",
    "workflow": "engine.core.workflow",
}

__all__ = [
    "Annotations",
    "ContainerTask",
    "CronSchedule",
    "DynamicTask",
    "EagerTask",
    "ExecutionParameters",
    "FixedRate",
    "HashMethod",
    "ImageSpec",
    "LaunchPlan",
    "Labels",
    "MapTask",
    "PythonFunctionTask",
    "PythonFunctionWorkflow",
    "RawOutputDataConfig",
    "Resources",
    "Secret",
    "ShellTask",
    "Workflow",
    "WorkflowFailurePolicy",
    "conditional",
    "create_node",
    "current_context",
    "dynamic",
    "eager",
    "kwtypes",
    "map_task",
    "reference_launch_plan",
    "reference_task",
    "task",
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
