"""Flyray: Flyte-style typed, cached, versioned workflows on Ray.

Switch ``from flytekit import ...`` to ``from engine import ...``.
"""

from __future__ import annotations

import engine.types  # noqa: F401  (registers the type transformers)
from engine.core.container_task import ContainerTask
from engine.core.dynamic import DynamicTask, dynamic
from engine.core.eager import EagerTask, eager
from engine.core.imperative import Workflow
from engine.core.later_features import ImageSpec
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
