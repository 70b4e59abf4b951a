"""Checks of the JSON that clients register: task, workflow and launch plan specs,
literal values.

Pure functions, no database: each turns client JSON into the engine's spec objects or
raises :class:`InvalidArgumentError` saying what is wrong and where. The engine's own
``from_dict`` trusts its input (it reads what ``to_dict`` wrote), so malformed JSON is
caught here and reported, never left to fail deeper as a crash.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from engine.dag.spec import (
    Interface,
    LaunchPlanSpec,
    ResourceType,
    Schedule,
    TaskSpec,
    Variable,
    WorkflowSpec,
)
from engine.dag.validate import validate_workflow
from engine.errors import SpecError
from engine.types.literal import Kind, LiteralType, Simple, literal_matches
from serve.errors import InvalidArgumentError
from serve.store.identifiers import check_identifier, describe

T = TypeVar("T")

# Deeper JSON than this is refused: real specs nest a few dozen levels at most, and the
# engine's recursive readers must stay far from Python's recursion limit.
MAX_DEPTH = 100
# What a malformed document makes the engine's readers raise.
_MALFORMED = (KeyError, IndexError, TypeError, ValueError, AttributeError, AssertionError,
              RecursionError)


def check_json(value: Any, where: str) -> None:
    """Refuse what JSON cannot carry faithfully or the databases cannot store.

    Non-finite floats (NaN, Infinity), NUL characters (PostgreSQL text refuses them),
    non-string keys and nesting deeper than ``MAX_DEPTH``.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InvalidArgumentError(f"{where} nests deeper than {MAX_DEPTH} levels")
        if isinstance(item, float) and not math.isfinite(item):
            raise InvalidArgumentError(f"{where} holds the number {item}, which JSON cannot "
                                       "represent; use a finite number")
        elif isinstance(item, str) and "\x00" in item:
            raise InvalidArgumentError(f"{where} holds a string with a NUL character")
        elif isinstance(item, dict):
            for key, member in item.items():
                if not isinstance(key, str) or "\x00" in key:
                    raise InvalidArgumentError(f"{where} holds the key {key!r}: keys must be "
                                               "strings without NUL characters")
                stack.append((member, depth + 1))
        elif isinstance(item, (list, tuple)):
            stack.extend((member, depth + 1) for member in item)
        elif not (item is None or isinstance(item, (bool, int, float, str))):
            raise InvalidArgumentError(f"{where} holds a {type(item).__name__}, which is "
                                       "not a JSON value")


def canonical_json(document: Any) -> str:
    """The stored text of a document; key order is kept because it is meaningful."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _parse(what: str, read: Callable[[], T]) -> T:
    try:
        return read()
    except (SpecError, InvalidArgumentError) as e:
        raise InvalidArgumentError(f"{what}: {e}") from None
    except _MALFORMED as e:
        detail = f"missing field {e}" if isinstance(e, KeyError) else str(e) or "malformed"
        raise InvalidArgumentError(
            f"{what} is malformed ({type(e).__name__}: {detail}); send the JSON written by "
            "the spec's to_dict()") from None


def parse_task_spec(document: Any) -> TaskSpec:
    """A task spec from its JSON form, checked."""
    if not isinstance(document, dict):
        raise InvalidArgumentError("task spec must be a JSON object")
    check_json(document, "task spec")

    def read() -> TaskSpec:
        spec = TaskSpec.from_dict(document)
        check_identifier(spec.id, ResourceType.TASK)
        if spec.reference is not None:
            raise InvalidArgumentError(
                f"task '{spec.id.name}' is the stub of a reference to "
                f"{spec.reference.name}@{spec.reference.version}: stubs are not registered; "
                "register the workflow that uses it (the referenced entity must be "
                "registered)")
        _check_interface(spec.interface, f"task '{spec.id.name}'")
        spec.to_dict()  # every part can be written back
        return spec

    return _parse("task spec", read)


def parse_workflow_spec(document: Any) -> WorkflowSpec:
    """A workflow spec from its JSON form; every binding's type is checked."""
    if not isinstance(document, dict):
        raise InvalidArgumentError("workflow spec must be a JSON object")
    check_json(document, "workflow spec")

    def read() -> WorkflowSpec:
        spec = WorkflowSpec.from_dict(document)
        check_identifier(spec.id, ResourceType.WORKFLOW)
        where = f"workflow '{spec.id.name}'"
        _check_interface(spec.interface, where)
        for key, task in spec.tasks.items():
            check_identifier(task.id)
            _check_interface(task.interface, f"{where}, task '{key}'")
        for node in spec.nodes:
            if node.branch is not None:
                _check_variables(node.branch.outputs, f"{where}, node '{node.id}' output")
        validate_workflow(spec)
        spec.to_dict()
        return spec

    return _parse("workflow spec", read)


def parse_launch_plan_spec(document: Any) -> LaunchPlanSpec:
    """A launch plan spec from its JSON form: its shape (``LaunchPlanSpec.from_dict``) and
    identifiers checked; its inputs are checked against its workflow on registration
    (:func:`check_against_workflow`)."""
    check_json(document, "launch plan spec")
    try:
        plan = LaunchPlanSpec.from_dict(document)
    except SpecError as e:
        raise InvalidArgumentError(str(e)) from None
    for ident, where in ((plan.id, "launch plan spec id"),
                         (plan.workflow_id, "launch plan spec workflow_id")):
        try:
            check_identifier(ident)
        except InvalidArgumentError as e:
            raise InvalidArgumentError(f"{where}: {e}") from None
    return plan


def check_against_workflow(plan: LaunchPlanSpec, workflow: WorkflowSpec) -> None:
    """Raise unless the plan's inputs are inputs of ``workflow`` with values of their types."""
    where = f"launch plan {describe(plan.id)}"
    if (plan.workflow_id.project, plan.workflow_id.domain) != (plan.id.project, plan.id.domain):
        raise InvalidArgumentError(f"{where}: its workflow {describe(plan.workflow_id)} must be "
                                   "in the launch plan's own project and domain")
    check_input_values(plan.default_inputs, workflow.interface, f"{where}: default_inputs")
    check_input_values(plan.fixed_inputs, workflow.interface, f"{where}: fixed_inputs")
    if plan.schedule is not None:
        _check_schedule(plan, plan.schedule, workflow, where)


_DATETIME = LiteralType(Kind.SIMPLE, Simple.DATETIME)


def _check_schedule(plan: LaunchPlanSpec, schedule: Schedule, workflow: WorkflowSpec,
                    where: str) -> None:
    """A scheduled execution gets no inputs but the kickoff time: the kickoff input must
    be a datetime input that is not fixed, and every other input needs a value."""
    kickoff = schedule.kickoff_time_input_arg
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


def _check_interface(interface: Interface, where: str) -> None:
    _check_variables(interface.inputs, f"{where}: input")
    _check_variables(interface.outputs, f"{where}: output")


def _check_variables(variables: Iterable[Variable], where: str) -> None:
    for var in variables:
        if not isinstance(var.name, str) or not var.name:
            raise InvalidArgumentError(f"{where} without a name: {var.name!r}")
        problem = literal_type_problem(var.type)
        if problem:
            raise InvalidArgumentError(f"{where} '{var.name}' has a malformed type: {problem}")
        if var.has_default and not literal_matches(var.default, var.type):
            raise InvalidArgumentError(
                f"{where} '{var.name}': default {_show(var.default)} is not a {var.type}")


def literal_type_problem(t: LiteralType) -> str | None:
    """What is missing from a literal type for its kind, or None when it is well formed."""
    if t.kind is Kind.SIMPLE and t.simple is None:
        return "a simple type needs 'simple'"
    if t.kind in (Kind.LIST, Kind.MAP):
        return (f"a {t.kind.value} type needs 'item'" if t.item is None
                else literal_type_problem(t.item))
    if t.kind is Kind.UNION and not t.variants:
        return "a union type needs 'variants'"
    if t.kind is Kind.ENUM and not all(isinstance(v, str) for v in t.values):
        return "an enum type's values must be strings"
    for member in (*t.variants, *(ft for _, ft in t.fields)):
        problem = literal_type_problem(member)
        if problem:
            return problem
    if not all(isinstance(n, str) for n, _ in t.fields):
        return "field names must be strings"
    return None


def has_pickle(t: LiteralType) -> bool:
    """Whether values of ``t`` may hold pickled Python objects."""
    members = [*(m for m in (t.item,) if m is not None), *t.variants, *(f for _, f in t.fields)]
    return t.kind is Kind.PICKLE or any(has_pickle(m) for m in members)


def check_input_values(values: Any, interface: Interface, where: str) -> dict[str, Any]:
    """``values`` (input name -> JSON literal) when each names an input and fits its type.

    Inputs of a type that may hold pickled objects are refused: the admin API takes
    typed JSON only and never unpickles what a client sends.
    """
    if not isinstance(values, dict):
        raise InvalidArgumentError(f"{where} must be an object of input name -> value, "
                                   f"got {type(values).__name__}")
    check_json(values, where)
    for name, value in values.items():
        var = interface.input(name)
        if var is None:
            known = ", ".join(v.name for v in interface.inputs) or "none"
            raise InvalidArgumentError(f"{where}: '{name}' is not an input of the workflow "
                                       f"(inputs: {known})")
        if has_pickle(var.type):
            raise InvalidArgumentError(
                f"{where}: input '{name}' has the type {var.type}, whose values are pickled "
                "Python objects; the admin API accepts typed JSON values only")
        if not literal_matches(value, var.type):
            raise InvalidArgumentError(f"{where}: input '{name}' expects {var.type}, got "
                                       f"{_show(value)}")
    return dict(values)


def _show(value: Any) -> str:
    text = json.dumps(value, allow_nan=True, default=repr)
    return text if len(text) <= 80 else text[:77] + "..."
