"""The registered form of a launch plan: a workflow with default and fixed inputs, an
optional schedule, a limit on concurrent executions, the defaults of its executions'
raw-output prefix, labels and annotations, and the notifications sent when they end.

Plain, immutable data and its JSON contract, shared by the CLI (which builds it from an
SDK ``LaunchPlan``) and the control plane (which stores it). ``from_dict`` checks the
document's own shape and raises SpecError saying what is wrong; the checks that need the
registered workflow (input names and types, the schedule's inputs) or the server's rules
for identifiers are the control plane's (``serve.store.specs``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from engine.dag.spec.identifier import Identifier, ResourceType
from engine.dag.spec.labels import check_annotations, check_labels, check_prefix
from engine.dag.spec.notification import NotificationSpec, notifications_from_list
from engine.dag.spec.schedule import Schedule, schedule_from_dict
from engine.dag.spec.workflow import WorkflowSpec
from engine.errors import ConfigError, SpecError

# The fields of the JSON form, in the order ``to_dict`` writes them.
_FIELDS = ("id", "workflow_id", "default_inputs", "fixed_inputs", "schedule",
           "max_parallel_executions", "raw_output_data_config", "labels", "annotations",
           "notifications")
_ID_PARTS = ("resource_type", "project", "domain", "name", "version")


@dataclass(frozen=True)
class LaunchPlanSpec:
    """What is registered for a launch plan version (immutable, unlike its activation).

    Invariant (checked by ``from_dict``): no input is both fixed and default.
    """

    id: Identifier
    workflow_id: Identifier
    # Input name -> JSON literal: used when a launch does not give the input.
    default_inputs: dict[str, Any] = field(default_factory=dict)
    # Input name -> JSON literal: always used; a launch may not give the input.
    fixed_inputs: dict[str, Any] = field(default_factory=dict)
    # Cron or fixed-rate schedule, fired while the version is ACTIVE; None: launched only
    # on request.
    schedule: Schedule | None = None
    # How many executions of this launch plan may run at once (None: no limit).
    max_parallel_executions: int | None = None
    # Where its executions write raw outputs (files, directories, dataframes, offloaded
    # values), a URI inside a blob store; None: the blob store's default place. JSON:
    # ``raw_output_data_config.output_location_prefix``.
    raw_output_prefix: str | None = None
    # Kubernetes-style labels and annotations its executions get by default (a launch
    # request may add to or override them).
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    # Sent by the control plane when an execution of this launch plan ends in one of
    # their phases (``engine.dag.spec.notification``).
    notifications: tuple[NotificationSpec, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON form. The prefix, labels, annotations and notifications are written
        only when set, so that a launch plan without them keeps the JSON (and the version)
        it had before they existed."""
        data: dict[str, Any] = {
            "id": self.id.to_dict(),
            "workflow_id": self.workflow_id.to_dict(),
            "default_inputs": dict(self.default_inputs),
            "fixed_inputs": dict(self.fixed_inputs),
            "schedule": self.schedule.to_dict() if self.schedule is not None else None,
            "max_parallel_executions": self.max_parallel_executions,
        }
        if self.raw_output_prefix is not None:
            data["raw_output_data_config"] = {"output_location_prefix": self.raw_output_prefix}
        if self.labels:
            data["labels"] = dict(self.labels)
        if self.annotations:
            data["annotations"] = dict(self.annotations)
        if self.notifications:
            data["notifications"] = [n.to_dict() for n in self.notifications]
        return data

    @classmethod
    def from_dict(cls, data: Any) -> LaunchPlanSpec:
        """Parse the JSON form, checking its shape: known fields only, identifiers of a
        launch plan and of a workflow, inputs as objects, a valid schedule, a limit of at
        least 1, no input both fixed and default, Kubernetes-valid labels and annotations,
        a URI as raw-output prefix, valid notifications. Raises SpecError."""
        if not isinstance(data, dict):
            raise SpecError(f"launch plan spec must be a JSON object, got "
                            f"{type(data).__name__}")
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise SpecError(f"launch plan spec has unknown field(s) {unknown}; "
                            f"known: {list(_FIELDS)}")
        ident = _identifier(data.get("id"), "id", ResourceType.LAUNCH_PLAN)
        workflow_id = _identifier(data.get("workflow_id"), "workflow_id",
                                  ResourceType.WORKFLOW)
        where = f"launch plan {ident.project}/{ident.domain}/{ident.name}@{ident.version}"
        default_inputs = _inputs(data.get("default_inputs"), "default_inputs")
        fixed_inputs = _inputs(data.get("fixed_inputs"), "fixed_inputs")
        both = sorted(set(default_inputs) & set(fixed_inputs))
        if both:
            raise SpecError(f"{where}: input(s) {both} are both fixed and default; a fixed "
                            "input cannot be overridden, so it cannot have a default")
        return cls(ident, workflow_id, default_inputs, fixed_inputs,
                   _schedule(data.get("schedule"), where),
                   _limit(data.get("max_parallel_executions"), where),
                   raw_output_prefix_from_dict(data.get("raw_output_data_config"), where),
                   check_labels(data.get("labels"), where),
                   check_annotations(data.get("annotations"), where),
                   notifications_from_list(data.get("notifications"), where))


def launch_plan_id(workflow_id: Identifier, name: str) -> Identifier:
    """The id of launch plan ``name`` of a workflow: in the workflow's project and domain,
    at its version."""
    return Identifier(ResourceType.LAUNCH_PLAN, workflow_id.project, workflow_id.domain,
                      name, workflow_id.version)


def default_launch_plan(workflow: WorkflowSpec) -> LaunchPlanSpec:
    """The launch plan every workflow has: same name and version, no inputs of its own
    (a launch falls back to the workflow's own defaults)."""
    return LaunchPlanSpec(launch_plan_id(workflow.id, workflow.id.name), workflow.id)


def with_registration_defaults(spec: LaunchPlanSpec,
                               raw_output_prefix: str | None = None) -> LaunchPlanSpec:
    """``spec`` with a registration's defaults (``register files
    --output-location-prefix``): the prefix is set only on a launch plan without its own."""
    if raw_output_prefix is None or spec.raw_output_prefix is not None:
        return spec
    where = f"launch plan {spec.id.project}/{spec.id.domain}/{spec.id.name}@{spec.id.version}"
    return replace(spec, raw_output_prefix=check_prefix(raw_output_prefix, where))


def raw_output_prefix_from_dict(data: Any, where: str) -> str | None:
    """The prefix of a ``{"output_location_prefix": URI}`` object (None: no prefix)."""
    if data is None:
        return None
    if not isinstance(data, dict) or set(data) - {"output_location_prefix"}:
        raise SpecError(f"{where}: raw_output_data_config must be an object with only "
                        f"output_location_prefix, got {data!r}")
    return check_prefix(data.get("output_location_prefix"), where)


def _identifier(data: Any, key: str, expected: ResourceType) -> Identifier:
    where = f"launch plan spec {key}"
    if not isinstance(data, dict):
        raise SpecError(f"{where} must be an object with {', '.join(_ID_PARTS)}, got "
                        f"{type(data).__name__}")
    missing = [part for part in _ID_PARTS if part not in data]
    if missing:
        raise SpecError(f"{where} lacks {', '.join(missing)}")
    if data["resource_type"] != expected.value:
        raise SpecError(f"{where} has resource_type {data['resource_type']!r}, expected "
                        f"'{expected.value}'")
    for part in _ID_PARTS[1:]:
        if not isinstance(data[part], str):
            raise SpecError(f"{where}: {part} must be a string, got "
                            f"{type(data[part]).__name__}")
    return Identifier(expected, data["project"], data["domain"], data["name"],
                      data["version"])


def _inputs(values: Any, key: str) -> dict[str, Any]:
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise SpecError(f"launch plan {key} must be an object of input name -> value, got "
                        f"{type(values).__name__}")
    return values


def _schedule(data: Any, where: str) -> Schedule | None:
    if data is None:
        return None
    try:
        return schedule_from_dict(data)
    except ConfigError as e:
        raise SpecError(f"{where}: {e}") from None


def _limit(limit: Any, where: str) -> int | None:
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)
                              or limit < 1):
        raise SpecError(f"{where}: max_parallel_executions must be a whole number of at "
                        f"least 1 or null, got {limit!r}")
    return limit
