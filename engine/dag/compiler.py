"""Tracing a workflow function into a :class:`WorkflowSpec`.

Compilation is explicit: :func:`compile_workflow` calls the user's function under a
compile context held in a ContextVar. While it is set, calling a task records a
node and returns promises instead of running anything; every binding is
type-checked as it is recorded, so errors point at the user's line.
"""

from __future__ import annotations

import contextvars
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.core.interface import PythonInterface, to_spec_interface
from engine.core.type_engine import TypeEngine, container_item_type
from engine.dag.promise import Promise
from engine.dag.source import call_site
from engine.dag.spec import (
    START_NODE,
    Binding,
    BindingList,
    BindingMap,
    Constant,
    Identifier,
    Node,
    OutputRef,
    ResourceType,
    TaskSpec,
    WorkflowSpec,
)
from engine.dag.types import LiteralType, is_assignable
from engine.dag.validate import validate_workflow
from engine.errors import BindingError, CompileError, InterfaceError, NotYetSupportedError


class TaskLike(Protocol):
    """What the compiler needs of a task object."""

    name: str
    python_interface: PythonInterface

    def spec(self) -> TaskSpec: ...

    def run_function(self, inputs: dict[str, Any]) -> list[Any]: ...


@dataclass(frozen=True)
class CompiledWorkflow:
    """A spec together with the Python objects that run its tasks."""

    spec: WorkflowSpec
    python_interface: PythonInterface
    tasks: dict[str, TaskLike]


@dataclass
class _Trace:
    """State of one workflow being traced."""

    workflow: str
    # Node id -> output name -> type, START_NODE holding the workflow inputs.
    output_types: dict[str, dict[str, LiteralType]]
    nodes: list[Node] = field(default_factory=list)
    tasks: dict[str, TaskLike] = field(default_factory=dict)


_TRACE: contextvars.ContextVar[_Trace | None] = contextvars.ContextVar("flyray_trace", default=None)


def is_compiling() -> bool:
    """Whether a workflow is being traced in this context."""
    return _TRACE.get() is not None


def compile_workflow(
    name: str, fn: Callable[..., Any], iface: PythonInterface, project: str, domain: str
) -> CompiledWorkflow:
    """Trace ``fn`` (the body of workflow ``name``) and return its compiled form."""
    if is_compiling():
        raise NotYetSupportedError(
            f"calling workflow '{name}' inside another workflow (sub-workflows)"
        )
    spec_iface = to_spec_interface(iface, f"workflow '{name}'")
    trace = _Trace(name, {START_NODE: {v.name: v.type for v in spec_iface.inputs}})
    inputs = {
        v.name: Promise(OutputRef(START_NODE, v.name), v.type, name, f"input '{v.name}'")
        for v in spec_iface.inputs
    }
    token = _TRACE.set(trace)
    try:
        returned = fn(**inputs)
    finally:
        _TRACE.reset(token)
    try:
        values = iface.unpack_outputs(returned, f"workflow '{name}'")
    except InterfaceError as e:
        raise CompileError(str(e)) from None
    outputs = []
    for (out, py_type), value in zip(iface.outputs.items(), values, strict=True):
        target = spec_iface.output(out)
        assert target is not None
        where = f"workflow '{name}': output '{out}'"
        outputs.append((out, _to_binding(trace, value, py_type, target.type, where)))
    tasks = {t.name: t.spec() for t in trace.tasks.values()}
    spec = WorkflowSpec(
        Identifier(ResourceType.WORKFLOW, project, domain, name, ""),
        spec_iface,
        tuple(trace.nodes),
        tuple(outputs),
        tasks,
    )
    spec = spec.with_version(_version(spec))
    validate_workflow(spec)
    return CompiledWorkflow(spec, iface, dict(trace.tasks))


def _version(spec: WorkflowSpec) -> str:
    return hashlib.sha256(spec.to_json().encode()).hexdigest()[:16]


def add_task_node(task: TaskLike, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Record a call of ``task`` in the workflow being traced; return its promises."""
    trace = _TRACE.get()
    if trace is None:
        raise RuntimeError("add_task_node called outside a workflow trace")
    node_id = f"n{len(trace.nodes)}"
    source = call_site()
    where = f"workflow '{trace.workflow}', node '{node_id}' (task '{task.name}', at {source})"
    iface = task.python_interface
    names = list(iface.inputs)
    if len(args) > len(names):
        raise BindingError(f"{where}: takes {len(names)} inputs but {len(args)} were given")
    bound = dict(zip(names, args, strict=False))
    for k, v in kwargs.items():
        if k in bound:
            raise BindingError(f"{where}: input '{k}' is given twice")
        bound[k] = v
    spec = task.spec()
    for k in bound:
        if k not in iface.inputs:
            raise BindingError(
                f"{where}: unknown input '{k}'; task '{task.name}' takes "
                f"{_signature(spec)}"
            )
    missing = [v.name for v in spec.interface.inputs if v.name not in bound and not v.has_default]
    if missing:
        raise BindingError(
            f"{where}: missing input(s) {', '.join(repr(m) for m in missing)}; task "
            f"'{task.name}' takes {_signature(spec)}"
        )
    bindings = []
    for var in spec.interface.inputs:
        if var.name in bound:
            what = f"{where}: input '{var.name}'"
            value = bound[var.name]
            bindings.append(
                (var.name, _to_binding(trace, value, iface.inputs[var.name], var.type, what))
            )
    node = Node(node_id, task.name, tuple(bindings), source=source)
    known = trace.tasks.get(task.name)
    if known is not None and known is not task and known.spec() != spec:
        raise CompileError(
            f"{where}: two different tasks are named '{task.name}'; give one another name "
            "with @task(name=...)"
        )
    trace.tasks[task.name] = task
    trace.nodes.append(node)
    trace.output_types[node_id] = {v.name: v.type for v in spec.interface.outputs}
    promises = [
        Promise(OutputRef(node_id, v.name), v.type, trace.workflow,
                f"output '{v.name}' of task '{task.name}'")
        for v in spec.interface.outputs
    ]
    return iface.pack_outputs(promises)


def _signature(spec: TaskSpec) -> str:
    parts = [f"{v.name}: {v.type}" + (" = ..." if v.has_default else "")
             for v in spec.interface.inputs]
    return "(" + ", ".join(parts) + ")"


def _to_binding(
    trace: _Trace, value: Any, py_type: Any, target: LiteralType, where: str
) -> Binding:
    if isinstance(value, Promise):
        if value.workflow != trace.workflow:
            raise BindingError(f"{where}: uses a promise of workflow '{value.workflow}'")
        source = trace.output_types[value.ref.node_id][value.ref.var]
        if not is_assignable(source, target):
            raise BindingError(
                f"{where}: expected {target}, got {source} ({value.origin})"
            )
        return value.ref
    if isinstance(value, (list, tuple)) and _holds_promise(value):
        item = _container_arg(py_type, list, where, target, "a list")
        lt = TypeEngine.to_literal_type(item)
        return BindingList(tuple(
            _to_binding(trace, v, item, lt, f"{where}[{i}]") for i, v in enumerate(value)
        ))
    if isinstance(value, dict) and _holds_promise(value):
        item = _container_arg(py_type, dict, where, target, "a dict")
        lt = TypeEngine.to_literal_type(item)
        return BindingMap(tuple(
            (k, _to_binding(trace, v, item, lt, f"{where}[{k!r}]")) for k, v in value.items()
        ))
    reason = TypeEngine.check(value, py_type)
    if reason:
        raise BindingError(f"{where}: {reason}")
    try:
        return Constant(TypeEngine.to_json(value, py_type))
    except TypeError as e:
        raise BindingError(f"{where}: {e}") from None


def _holds_promise(value: Any) -> bool:
    items = value.values() if isinstance(value, dict) else value
    return any(isinstance(v, Promise) or (isinstance(v, (list, tuple, dict)) and _holds_promise(v))
               for v in items)


def _container_arg(py_type: Any, origin: type, where: str, target: LiteralType, got: str) -> Any:
    item = container_item_type(py_type, origin)
    if item is None:
        raise BindingError(f"{where}: expected {target}, got {got} holding promises")
    return item
