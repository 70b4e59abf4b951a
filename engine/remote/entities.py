"""Registered entities as the admin API returns them, after flytekit's ``FlyteTask``,
``FlyteWorkflow`` and ``FlyteLaunchPlan``: an identifier, the registered spec, and the
typed interface, its Python types guessed from the literal types
(:func:`engine.types.guess.guess_python_interface`) since the code is not at hand.

Entities are immutable, like what they describe (a launch plan's activation state is
as it was when fetched).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.dag.spec import (
    Identifier,
    Interface,
    LaunchPlanSpec,
    Node,
    ResourceType,
    Schedule,
    TaskSpec,
    Variable,
    WorkflowSpec,
)
from engine.types.guess import guess_python_interface
from engine.types.interface import PythonInterface


@dataclass(frozen=True)
class EntityClosure:
    """What the admin API adds to a registered spec."""

    # When it was registered (None for a task known only from a workflow's closure).
    created_at: dt.datetime | None = None
    # The code bundle it runs from; None: the cluster's installed code.
    code_uri: str | None = None
    # Launch plans: ACTIVE or INACTIVE, when fetched.
    state: str | None = None


_NONE = object()


def parse_time(value: Any) -> dt.datetime | None:
    """A time as the admin API writes it (ISO 8601, UTC); None for none."""
    if not isinstance(value, str):
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def closure_of(reply: dict[str, Any]) -> EntityClosure:
    """The closure of an entity in the admin API's JSON."""
    return EntityClosure(parse_time(reply.get("created_at")), reply.get("code_uri"),
                         reply.get("state"))


class _Entity:
    """What every fetched entity has: ``id``, ``name``, ``version``, ``interface`` and its
    guessed Python types."""

    id: Identifier
    closure: EntityClosure
    reply: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The admin API's JSON of this entity, as fetched."""
        return dict(self.reply)

    @property
    def name(self) -> str:
        return self.id.name

    @property
    def version(self) -> str:
        return self.id.version

    @property
    def resource_type(self) -> ResourceType:
        return self.id.resource_type

    @property
    def interface(self) -> Interface:
        raise NotImplementedError

    @functools.cached_property
    def python_interface(self) -> PythonInterface:
        """The interface's Python types, guessed from its literal types."""
        return guess_python_interface(self.interface)

    @property
    def guessed_python_interface(self) -> PythonInterface:
        """flytekit's name of :attr:`python_interface`."""
        return self.python_interface

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.id})"


@dataclass(frozen=True, repr=False)
class FlyteTask(_Entity):
    """A registered task version."""

    id: Identifier
    spec: TaskSpec
    closure: EntityClosure = EntityClosure()
    reply: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def interface(self) -> Interface:
        return self.spec.interface

    @property
    def template(self) -> TaskSpec:
        """flytekit's name of the registered spec."""
        return self.spec

    @classmethod
    def of(cls, reply: dict[str, Any]) -> FlyteTask:
        spec = TaskSpec.from_dict(reply["spec"])
        return cls(spec.id, spec, closure_of(reply), reply)


@dataclass(frozen=True, repr=False)
class FlyteWorkflow(_Entity):
    """A registered workflow version, with the specs of the tasks it uses."""

    id: Identifier
    spec: WorkflowSpec
    closure: EntityClosure = EntityClosure()
    reply: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def interface(self) -> Interface:
        return self.spec.interface

    @property
    def nodes(self) -> tuple[Node, ...]:
        return self.spec.nodes

    @property
    def flyte_nodes(self) -> tuple[Node, ...]:
        """flytekit's name of :attr:`nodes`."""
        return self.spec.nodes

    @property
    def flyte_tasks(self) -> list[FlyteTask]:
        """The tasks its nodes run (launch plans and references left out)."""
        return [FlyteTask(t.id, t) for t in self.spec.tasks.values()
                if t.id.resource_type is ResourceType.TASK and t.reference is None]

    def node_interface(self, node_id: str) -> Interface | None:
        """The interface of the task node ``node_id`` runs; None for a branch or an
        unknown node."""
        node = next((n for n in (*self.spec.nodes, self.spec.on_failure)
                     if n is not None and n.id == node_id), None)
        task = self.spec.tasks.get(node.task) if node is not None else None
        return task.interface if task is not None else None

    @classmethod
    def of(cls, reply: dict[str, Any]) -> FlyteWorkflow:
        spec = WorkflowSpec.from_dict(reply["spec"])
        return cls(spec.id, spec, closure_of(reply), reply)


@dataclass(frozen=True, repr=False)
class FlyteLaunchPlan(_Entity):
    """A registered launch plan version and the workflow it launches.

    Its interface is the workflow's without the fixed inputs, with the launch plan's
    defaults. The workflow is fetched on first use."""

    id: Identifier
    spec: LaunchPlanSpec
    load_workflow: Callable[[], FlyteWorkflow] = field(compare=False)
    closure: EntityClosure = EntityClosure()
    reply: dict[str, Any] = field(default_factory=dict, compare=False)

    @functools.cached_property
    def flyte_workflow(self) -> FlyteWorkflow:
        return self.load_workflow()

    @property
    def workflow_id(self) -> Identifier:
        return self.spec.workflow_id

    @property
    def default_inputs(self) -> dict[str, Any]:
        """Input name -> JSON literal, used when a launch does not give the input."""
        return dict(self.spec.default_inputs)

    @property
    def fixed_inputs(self) -> dict[str, Any]:
        """Input name -> JSON literal, which a launch cannot change."""
        return dict(self.spec.fixed_inputs)

    @property
    def schedule(self) -> Schedule | None:
        return self.spec.schedule

    @property
    def is_scheduled(self) -> bool:
        return self.spec.schedule is not None

    @property
    def is_active(self) -> bool:
        """Whether this version was ACTIVE when fetched."""
        return self.closure.state == "ACTIVE"

    @functools.cached_property
    def interface(self) -> Interface:  # type: ignore[override]
        inputs = []
        for var in self.flyte_workflow.interface.inputs:
            if var.name in self.spec.fixed_inputs:
                continue
            default = self.spec.default_inputs.get(var.name, _NONE)
            inputs.append(var if default is _NONE else Variable(var.name, var.type, True,
                                                                 default))
        return Interface(tuple(inputs), self.flyte_workflow.interface.outputs)

    @classmethod
    def of(cls, reply: dict[str, Any],
           load_workflow: Callable[[], FlyteWorkflow]) -> FlyteLaunchPlan:
        spec = LaunchPlanSpec.from_dict(reply["spec"])
        return cls(spec.id, spec, load_workflow, closure_of(reply), reply)


FlyteEntity = FlyteTask | FlyteWorkflow | FlyteLaunchPlan
