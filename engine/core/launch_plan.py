"""Launch plans: a workflow with fixed and default inputs and, optionally, a schedule
(``CronSchedule``, ``FixedRate``) and notifications (``Email``, ``Slack``, ``PagerDuty``,
``Webhook``), as flytekit's ``LaunchPlan``.

Called from Python a launch plan runs like its workflow; its schedule and notifications
only matter to the control plane, which fires the active version of a registered launch
plan at its times (``serve.control.scheduler``) and sends the notifications when its
executions end (``serve.control.notifier``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from typing import Any, ClassVar

from engine.config import chosen_namespace, current_namespace
from engine.core.notification import Notification
from engine.core.workflow import PythonFunctionWorkflow
from engine.dag.compiler import add_task_node
from engine.dag.spec import (
    CronSchedule,
    FixedRate,
    Identifier,
    LaunchPlanSpec,
    ResourceSpec,
    ResourceType,
    Schedule,
    TaskMetadata,
    TaskSpec,
    launch_plan_id,
)
from engine.dag.spec.labels import (
    Annotations,
    Labels,
    RawOutputDataConfig,
    check_annotations,
    check_labels,
    check_prefix,
    prefix_of,
    values_of,
)
from engine.dag.trace import is_compiling
from engine.errors import ConfigError, InputValueError
from engine.types.interface import PythonInterface, bind_inputs, to_spec_interface
from engine.types.type_engine import TypeEngine


class LaunchPlan:
    """A workflow bound to fixed inputs (which a launch cannot change) and default ones.

    Call it like the workflow: from Python it runs an execution; inside a
    ``@workflow`` it is one node that runs the workflow as a child execution.
    """

    _known: ClassVar[dict[str, LaunchPlan]] = {}

    def __init__(self, name: str, workflow: PythonFunctionWorkflow,
                 default_inputs: dict[str, Any], fixed_inputs: dict[str, Any],
                 schedule: Schedule | None = None,
                 labels: Labels | dict[str, str] | None = None,
                 annotations: Annotations | dict[str, str] | None = None,
                 raw_output_data_config: RawOutputDataConfig | str | None = None,
                 notifications: Iterable[Notification] | None = None) -> None:
        self.name = name
        self.workflow = workflow
        self.default_inputs = dict(default_inputs)
        self.fixed_inputs = dict(fixed_inputs)
        self.schedule = schedule
        where = f"launch plan '{name}'"
        self.labels = check_labels(values_of(labels), where)
        self.annotations = check_annotations(values_of(annotations), where)
        self.raw_output_prefix = check_prefix(prefix_of(raw_output_data_config), where)
        self.notifications = _notifications(notifications, where)
        iface = workflow.python_interface
        for kind, values in (("default", default_inputs), ("fixed", fixed_inputs)):
            for key, value in values.items():
                if key not in iface.inputs:
                    raise ConfigError(f"{where}: {kind} input '{key}' is not an input of "
                                      f"workflow '{workflow.name}' ({', '.join(iface.inputs)})")
                reason = TypeEngine.check(value, iface.inputs[key])
                if reason:
                    raise ConfigError(f"{where}: {kind} input '{key}': {reason}")
        self.python_interface = PythonInterface(
            inputs={k: t for k, t in iface.inputs.items() if k not in fixed_inputs},
            defaults={**{k: v for k, v in iface.defaults.items() if k not in fixed_inputs},
                      **self.default_inputs},
            outputs=iface.outputs, output_tuple=iface.output_tuple,
        )
        if schedule is not None:
            self._check_schedule(schedule)

    def _check_schedule(self, schedule: Any) -> None:
        """A scheduled launch gives no inputs but the kickoff time: every other input
        needs a value (fixed, default, or the workflow's default)."""
        where = f"launch plan '{self.name}'"
        if not isinstance(schedule, (CronSchedule, FixedRate)):
            raise ConfigError(f"{where}: schedule must be a CronSchedule or a FixedRate, got "
                              f"{type(schedule).__name__}")
        if self.name == self.workflow.name:
            raise ConfigError(f"{where}: a launch plan with a schedule needs a name of its "
                              f"own (the workflow's default launch plan '{self.name}' has "
                              "none); pass name=...")
        kickoff = schedule.kickoff_time_input_arg
        inputs = self.workflow.python_interface.inputs
        if kickoff is not None:
            if kickoff not in inputs or inputs[kickoff] is not dt.datetime:
                found = ", ".join(f"{k}: {getattr(t, '__name__', t)}" for k, t in inputs.items())
                raise ConfigError(
                    f"{where}: kickoff_time_input_arg '{kickoff}' must be an input of "
                    f"workflow '{self.workflow.name}' of type datetime (its inputs: "
                    f"{found or 'none'})")
            if kickoff in self.fixed_inputs:
                raise ConfigError(f"{where}: input '{kickoff}' receives the kickoff time, so "
                                  "it cannot also be a fixed input")
        missing = [k for k in self.python_interface.inputs
                   if k != kickoff and k not in self.python_interface.defaults]
        if missing:
            raise ConfigError(
                f"{where}: a scheduled execution gets no inputs but the kickoff time, so "
                f"input(s) {', '.join(repr(m) for m in missing)} need a fixed or default "
                "value")

    @classmethod
    def get_or_create(cls, workflow: PythonFunctionWorkflow, name: str | None = None,
                      default_inputs: dict[str, Any] | None = None,
                      fixed_inputs: dict[str, Any] | None = None, schedule: Any = None,
                      notifications: Iterable[Notification] | None = None,
                      labels: Labels | dict[str, str] | None = None,
                      annotations: Annotations | dict[str, str] | None = None,
                      raw_output_data_config: RawOutputDataConfig | str | None = None,
                      **_: Any) -> LaunchPlan:
        """The launch plan ``name`` of ``workflow`` (by default the workflow's own).

        ``schedule`` (a ``CronSchedule`` or ``FixedRate``) makes the control plane launch
        it at those times (UTC) while its registered version is active; it needs a name
        of its own, and every input but the kickoff time needs a fixed or default value.
        ``labels`` and ``annotations`` (``Labels``/``Annotations`` or dicts, checked as
        Kubernetes does) and ``raw_output_data_config`` (where raw outputs go, inside the
        control plane's blob store) are the defaults of its remote executions.
        ``notifications`` (``Email``, ``Slack``, ``PagerDuty``, ``Webhook``) are sent by
        the control plane when one of its executions ends in one of their phases.
        """
        name = name or workflow.name
        plan = cls(name, workflow, default_inputs or {}, fixed_inputs or {}, schedule,
                   labels, annotations, raw_output_data_config, notifications)
        known = cls._known.get(name)
        if known is not None:
            if not known._same_as(plan):
                raise ConfigError(f"launch plan '{name}' already exists with other inputs, "
                                  "schedule, notifications, labels, annotations, raw output "
                                  "prefix or workflow; launch plans are immutable: give the "
                                  "new one another name")
            return known
        cls._known[name] = plan
        return plan

    @classmethod
    def create(cls, name: str, workflow: PythonFunctionWorkflow,
               default_inputs: dict[str, Any] | None = None,
               fixed_inputs: dict[str, Any] | None = None, schedule: Any = None,
               notifications: Iterable[Notification] | None = None,
               labels: Labels | dict[str, str] | None = None,
               annotations: Annotations | dict[str, str] | None = None,
               raw_output_data_config: RawOutputDataConfig | str | None = None,
               **_: Any) -> LaunchPlan:
        """A new launch plan ``name`` of ``workflow`` (flytekit's older constructor):
        as :meth:`get_or_create`, but a name may be created only once."""
        if name in cls._known:
            raise ConfigError(f"launch plan '{name}' was already created; names must be "
                              "unique (LaunchPlan.get_or_create returns an existing plan "
                              "defined the same way)")
        return cls.get_or_create(workflow, name, default_inputs, fixed_inputs, schedule,
                                 notifications, labels, annotations, raw_output_data_config)

    def _same_as(self, other: LaunchPlan) -> bool:
        return (self.workflow is other.workflow and self.default_inputs == other.default_inputs
                and self.fixed_inputs == other.fixed_inputs and self.schedule == other.schedule
                and self.notifications == other.notifications and self.labels == other.labels
                and self.annotations == other.annotations
                and self.raw_output_prefix == other.raw_output_prefix)

    @classmethod
    def get_default_launch_plan(cls, _ctx: Any, workflow: PythonFunctionWorkflow) -> LaunchPlan:
        return cls.get_or_create(workflow)

    def __repr__(self) -> str:
        return f"<launch plan {self.name} of {self.workflow.name}>"

    def to_spec(self) -> LaunchPlanSpec:
        """The registered form: this plan of its workflow's compiled version, its inputs
        as JSON literals (what ``flyray register`` sends to the control plane)."""
        workflow = self.workflow.compile().spec
        return LaunchPlanSpec(launch_plan_id(workflow.id, self.name), workflow.id,
                              _literals(self.workflow, self.default_inputs),
                              _literals(self.workflow, self.fixed_inputs), self.schedule,
                              raw_output_prefix=self.raw_output_prefix,
                              labels=dict(self.labels), annotations=dict(self.annotations),
                              notifications=tuple(n.to_spec() for n in self.notifications))

    def _inputs(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        names = list(self.python_interface.inputs)
        given = {**dict(zip(names, args, strict=False)), **kwargs}
        fixed = sorted(set(given) & set(self.fixed_inputs))
        if fixed:
            raise InputValueError(f"launch plan '{self.name}': input(s) {fixed} are fixed and "
                                  "cannot be given at launch")
        return given

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        given = self._inputs(args, kwargs)
        if is_compiling():
            return add_task_node(LaunchPlanNode(self), (), given)
        bound = bind_inputs(f"launch plan '{self.name}'", self.python_interface, (), given)
        return self.workflow(**bound, **self.fixed_inputs)


class LaunchPlanNode:
    """A launch plan called inside a workflow: one node that starts the plan's workflow as
    a child execution, with the plan's fixed inputs and the defaults the caller left out.

    The node only coordinates (it asks for no CPU); the child's nodes run on the cluster
    and show as the children of this node in the parent's record.
    """

    def __init__(self, plan: LaunchPlan) -> None:
        self.plan = plan
        self.name = plan.name
        self.python_interface = plan.python_interface
        # By namespace() block (None: the settings' project and domain).
        self._specs: dict[tuple[str, str] | None, TaskSpec] = {}

    def spec(self) -> TaskSpec:
        chosen = chosen_namespace()
        spec = self._specs.get(chosen)
        if spec is None:
            project, domain = chosen or current_namespace()
            workflow = self.plan.workflow.compile().spec
            iface = to_spec_interface(self.python_interface, f"launch plan '{self.name}'")
            fixed = _literals(self.plan.workflow, self.plan.fixed_inputs)
            version = hashlib.sha256(
                json.dumps([workflow.id.version, fixed, iface.to_dict()], sort_keys=True,
                           default=str).encode()
            ).hexdigest()[:16]
            spec = TaskSpec(
                Identifier(ResourceType.LAUNCH_PLAN, project, domain,
                           self.name, version),
                iface, TaskMetadata(requests=ResourceSpec(cpu=0.0)),
                self.plan.workflow.fn.__module__, self.plan.workflow.fn.__name__,
            )
            self._specs[chosen] = spec
        return spec

    def run_function(self, inputs: dict[str, Any]) -> list[Any]:
        # The executor (Ray) is loaded where a launch plan's node runs, not by declaring one.
        from engine.dag.run.child_run import run_child

        defaults = {k: v for k, v in self.python_interface.defaults.items() if k not in inputs}
        result = run_child(self.plan.workflow.compile(),
                           {**defaults, **inputs, **self.plan.fixed_inputs})
        return self.python_interface.unpack_outputs(result.outputs,
                                                    f"launch plan '{self.name}'")


def _notifications(given: Iterable[Notification] | None,
                   where: str) -> tuple[Notification, ...]:
    """The notifications of a launch plan, each an ``Email``, ``Slack``, ``PagerDuty`` or
    ``Webhook``."""
    if given is None:
        return ()
    if isinstance(given, Notification) or not isinstance(given, Iterable):
        raise ConfigError(f"{where}: notifications must be a list of Email, Slack, PagerDuty "
                          f"or Webhook, got {given!r}; write [...] around it")
    notifications = tuple(given)
    for item in notifications:
        if not isinstance(item, Notification):
            raise ConfigError(f"{where}: notifications must be Email, Slack, PagerDuty or "
                              f"Webhook objects (engine), got {type(item).__name__} "
                              f"{item!r}")
    return notifications


def _literals(workflow: PythonFunctionWorkflow, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` (input name -> Python value) as JSON literals of the workflow's input
    types."""
    inputs = workflow.python_interface.inputs
    return {k: TypeEngine.to_json(v, inputs[k]) for k, v in values.items()}
