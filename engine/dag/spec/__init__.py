"""The compiled form of tasks, workflows and launch plans: immutable, JSON-serializable,
versioned. Every registered entity's JSON contract lives here, shared by the SDK, the CLI
and the control plane.

Plain data (no Ray, no user code), one concept per module:

- :mod:`~engine.dag.spec.identifier`: ``Identifier``, ``ResourceType``.
- :mod:`~engine.dag.spec.interface`: ``Interface``, ``Variable``.
- :mod:`~engine.dag.spec.bindings`: how a node input gets its value; branch conditions.
- :mod:`~engine.dag.spec.task`: ``TaskSpec`` and its metadata.
- :mod:`~engine.dag.spec.workflow`: ``WorkflowSpec``, its nodes and branches.
- :mod:`~engine.dag.spec.gate`: ``GateSpec``, what a gate node (sleep, wait_for_input,
  approve) waits for.
- :mod:`~engine.dag.spec.launch_plan`: ``LaunchPlanSpec``.
- :mod:`~engine.dag.spec.labels`: labels, annotations and raw-output prefixes, checked as
  Kubernetes checks labels and annotations.
- :mod:`~engine.dag.spec.schedule`: ``CronSchedule``, ``FixedRate`` (a launch plan's).

``WorkflowSpec.from_dict`` is loaded and validated by :func:`engine.dag.graph.load_workflow`.
"""

from __future__ import annotations

from engine.dag.spec.bindings import (
    COMPARISONS,
    START_NODE,
    Binding,
    BindingList,
    BindingMap,
    Comparison,
    Condition,
    Conjunction,
    Constant,
    OutputRef,
    PathKey,
    binding_from_dict,
    binding_to_dict,
    condition_from_dict,
    condition_refs,
    condition_to_dict,
    describe_path,
    follow,
    path_type,
    refs_of,
    with_path,
)
from engine.dag.spec.gate import APPROVE_INPUT, GATE_OUTPUT, GateKind, GateSpec
from engine.dag.spec.identifier import Identifier, ResourceType
from engine.dag.spec.interface import Interface, Variable
from engine.dag.spec.launch_plan import LaunchPlanSpec, default_launch_plan, launch_plan_id
from engine.dag.spec.schedule import CronSchedule, FixedRate, Schedule, schedule_from_dict
from engine.dag.spec.task import ContainerSpec, ResourceSpec, TaskMetadata, TaskSpec
from engine.dag.spec.workflow import (
    ON_FAILURE_ERROR,
    ON_FAILURE_NODE,
    SCHEMA_VERSION,
    BranchSpec,
    Case,
    Node,
    NodeOverrides,
    WorkflowFailurePolicy,
    WorkflowSpec,
)

__all__ = [
    "APPROVE_INPUT",
    "COMPARISONS",
    "GATE_OUTPUT",
    "ON_FAILURE_ERROR",
    "ON_FAILURE_NODE",
    "SCHEMA_VERSION",
    "START_NODE",
    "Binding",
    "BindingList",
    "BindingMap",
    "BranchSpec",
    "Case",
    "Comparison",
    "Condition",
    "Conjunction",
    "Constant",
    "ContainerSpec",
    "CronSchedule",
    "FixedRate",
    "GateKind",
    "GateSpec",
    "Identifier",
    "Interface",
    "LaunchPlanSpec",
    "Node",
    "NodeOverrides",
    "OutputRef",
    "PathKey",
    "ResourceSpec",
    "ResourceType",
    "Schedule",
    "TaskMetadata",
    "TaskSpec",
    "Variable",
    "WorkflowFailurePolicy",
    "WorkflowSpec",
    "binding_from_dict",
    "binding_to_dict",
    "condition_from_dict",
    "condition_refs",
    "condition_to_dict",
    "describe_path",
    "follow",
    "path_type",
    "default_launch_plan",
    "launch_plan_id",
    "refs_of",
    "with_path",
    "schedule_from_dict",
]
