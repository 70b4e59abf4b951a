"""Launch plans as the control plane registers them: a workflow with fixed and default inputs.

Plain data and pure checks; the store keeps them and their activation state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from engine.core.schedule import Schedule, schedule_from_dict
from engine.dag.spec import Identifier, ResourceType, WorkflowSpec
from engine.errors import ConfigError
from engine.types.literal import Kind, LiteralType, Simple
from serve.errors import InvalidArgumentError
from serve.store.identifiers import describe, identifier_from_dict
from serve.store.specs import check_input_values, check_json

_FIELDS = ("id", "workflow_id", "default_inputs", "fixed_inputs", "schedule",
           "max_parallel_executions")


class LaunchPlanState(str, Enum):
    """Activation of one launch plan version; at most one version of a name is ACTIVE."""

    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"


@dataclass(frozen=True)
class LaunchPlanSpec:
    """What is registered for a launch plan version (immutable, unlike its state)."""

    id: Identifier
    workflow_id: Identifier
    # Input name -> JSON literal: used when a launch does not give the input.
    default_inputs: dict[str, Any] = field(default_factory=dict)
    # Input name -> JSON literal: always used; a launch may not give the input.
    fixed_inputs: dict[str, Any] = field(default_factory=dict)
    # Cron or fixed-rate schedule (``engine.core.schedule``), fired while the version is
    # ACTIVE; None: launched only on request.
    schedule: Schedule | None = None
    # How many executions of this launch plan may run at once (None: no limit).
    max_parallel_executions: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id.to_dict(),
            "workflow_id": self.workflow_id.to_dict(),
            "default_inputs": dict(self.default_inputs),
            "fixed_inputs": dict(self.fixed_inputs),
            "schedule": self.schedule.to_dict() if self.schedule is not None else None,
            "max_parallel_executions": self.max_parallel_executions,
        }

    @classmethod
    def from_dict(cls, data: Any) -> LaunchPlanSpec:
        """Parse and check the JSON form (workflow-independent checks only)."""
        if not isinstance(data, dict):
            raise InvalidArgumentError("launch plan spec must be a JSON object")
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise InvalidArgumentError(f"launch plan spec has unknown field(s) {unknown}; "
                                       f"known: {list(_FIELDS)}")
        check_json(data, "launch plan spec")
        ident = identifier_from_dict(data.get("id"), "launch plan spec id",
                                     ResourceType.LAUNCH_PLAN)
        workflow_id = identifier_from_dict(data.get("workflow_id"),
                                           "launch plan spec workflow_id", ResourceType.WORKFLOW)
        inputs = {}
        for kind in ("default_inputs", "fixed_inputs"):
            values = data.get(kind)
            values = {} if values is None else values
            if not isinstance(values, dict):
                raise InvalidArgumentError(f"launch plan {kind} must be an object of input "
                                           f"name -> value, got {type(values).__name__}")
            inputs[kind] = values
        schedule = None
        if data.get("schedule") is not None:
            try:
                schedule = schedule_from_dict(data["schedule"])
            except ConfigError as e:
                raise InvalidArgumentError(f"launch plan {describe(ident)}: {e}") from None
        limit = data.get("max_parallel_executions")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)
                                  or limit < 1):
            raise InvalidArgumentError("max_parallel_executions must be a whole number of at "
                                       f"least 1 or null, got {limit!r}")
        both = sorted(set(inputs["default_inputs"]) & set(inputs["fixed_inputs"]))
        if both:
            raise InvalidArgumentError(
                f"launch plan {describe(ident)}: input(s) {both} are both fixed and default; "
                "a fixed input cannot be overridden, so it cannot have a default")
        return cls(ident, workflow_id, inputs["default_inputs"], inputs["fixed_inputs"],
                   schedule, limit)


def default_launch_plan(workflow: WorkflowSpec) -> LaunchPlanSpec:
    """The launch plan every workflow has: same name and version, no inputs of its own
    (a launch falls back to the workflow's own defaults)."""
    ident = Identifier(ResourceType.LAUNCH_PLAN, workflow.id.project, workflow.id.domain,
                       workflow.id.name, workflow.id.version)
    return LaunchPlanSpec(ident, workflow.id)


def check_against_workflow(plan: LaunchPlanSpec, workflow: WorkflowSpec) -> None:
    """Raise unless the plan's inputs are inputs of ``workflow`` with values of their types."""
    where = f"launch plan {describe(plan.id)}"
    if (plan.workflow_id.project, plan.workflow_id.domain) != (plan.id.project, plan.id.domain):
        raise InvalidArgumentError(f"{where}: its workflow {describe(plan.workflow_id)} must be "
                                   "in the launch plan's own project and domain")
    check_input_values(plan.default_inputs, workflow.interface, f"{where}: default_inputs")
    check_input_values(plan.fixed_inputs, workflow.interface, f"{where}: fixed_inputs")
    if plan.schedule is not None:
        _check_schedule(plan, workflow, where)


_DATETIME = LiteralType(Kind.SIMPLE, Simple.DATETIME)


def _check_schedule(plan: LaunchPlanSpec, workflow: WorkflowSpec, where: str) -> None:
    """A scheduled execution gets no inputs but the kickoff time: the kickoff input must
    be a datetime input that is not fixed, and every other input needs a value."""
    assert plan.schedule is not None
    kickoff = plan.schedule.kickoff_time_input_arg
    if kickoff is not None:
        var = workflow.interface.input(kickoff)
        if var is None or var.type != _DATETIME:
            found = ", ".join(f"{v.name}: {v.type}" for v in workflow.interface.inputs)
            raise InvalidArgumentError(
                f"{where}: schedule.kickoff_time_input_arg '{kickoff}' must be a datetime "
                f"input of {describe(workflow.id)} (its inputs: {found or 'none'})")
        if kickoff in plan.fixed_inputs:
            raise InvalidArgumentError(f"{where}: input '{kickoff}' receives the kickoff "
                                       "time, so it cannot also be a fixed input")
    missing = [v.name for v in workflow.interface.inputs
               if v.name != kickoff and not v.has_default
               and v.name not in plan.fixed_inputs and v.name not in plan.default_inputs]
    if missing:
        raise InvalidArgumentError(
            f"{where}: a scheduled execution gets no inputs but the kickoff time, so input(s) "
            f"{', '.join(repr(m) for m in missing)} need a fixed or default value")


def resolve_inputs(plan: LaunchPlanSpec, workflow: WorkflowSpec,
                   given: Any) -> dict[str, Any]:
    """The inputs of a launch: the workflow's defaults, then the plan's defaults, then
    ``given``, then the fixed inputs; in the workflow's input order.

    Raises InvalidArgumentError when ``given`` sets a fixed input, names an unknown
    input, has a value of the wrong type, or leaves a required input without a value.
    """
    where = f"launch of {describe(plan.id)}"
    for name in given if isinstance(given, dict) else ():
        if name in plan.fixed_inputs:
            raise InvalidArgumentError(
                f"{where}: input '{name}' is fixed by the launch plan to "
                f"{json.dumps(plan.fixed_inputs[name])[:80]} and cannot be given at launch; "
                "leave it out, or launch another launch plan")
    values = check_input_values(given, workflow.interface, f"{where}: inputs")
    merged: dict[str, Any] = {}
    for var in workflow.interface.inputs:
        for source in (plan.fixed_inputs, values, plan.default_inputs):
            if var.name in source:
                merged[var.name] = source[var.name]
                break
        else:
            if var.has_default:
                merged[var.name] = var.default
    missing = [v.name for v in workflow.interface.inputs if v.name not in merged]
    if missing:
        raise InvalidArgumentError(f"{where}: no value for required input(s) "
                                   f"{', '.join(repr(m) for m in missing)}")
    return merged
