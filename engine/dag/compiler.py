"""Tracing a workflow function into a :class:`WorkflowSpec`.

Compilation is explicit: :func:`compile_workflow` calls the user's function under a
compile context held in a ContextVar. While it is set, calling a task records a
node and returns promises instead of running anything; every binding is
type-checked as it is recorded, so errors point at the user's line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from engine.dag.conditional import ConditionalSection
from engine.dag.promise import NodeHandle, Promise
from engine.dag.source import call_site
from engine.dag.spec import (
    ON_FAILURE_ERROR,
    ON_FAILURE_NODE,
    START_NODE,
    Binding,
    BindingList,
    BindingMap,
    Case,
    Comparison,
    Condition,
    Conjunction,
    Constant,
    Identifier,
    Interface,
    Node,
    OutputRef,
    ResourceType,
    WorkflowFailurePolicy,
    WorkflowSpec,
    path_type,
    with_path,
)
from engine.dag.trace import TRACE, TaskLike, Trace, current_trace
from engine.dag.validate import gate_outputs, validate_workflow
from engine.errors import (
    BindingError,
    CompileError,
    DataError,
    InterfaceError,
    NotYetSupportedError,
)
from engine.types.interface import PythonInterface, to_spec_interface
from engine.types.literal import LiteralType, is_assignable
from engine.types.type_engine import TypeEngine, container_item_type


@dataclass(frozen=True)
class CompiledWorkflow:
    """A spec together with the Python objects that run its tasks."""

    spec: WorkflowSpec
    python_interface: PythonInterface
    tasks: dict[str, TaskLike]


def compile_workflow(
    name: str, fn: Callable[..., Any], iface: PythonInterface, project: str, domain: str,
    failure_policy: WorkflowFailurePolicy = WorkflowFailurePolicy.FAIL_IMMEDIATELY,
    on_failure: TaskLike | None = None,
) -> CompiledWorkflow:
    """Trace ``fn`` (the body of workflow ``name``) and return its compiled form.

    A workflow called inside another is compiled here too, under its own trace
    (the ContextVar restores the caller's afterwards), then inlined by the caller.
    """
    spec_iface = to_spec_interface(iface, f"workflow '{name}'")
    trace = Trace(name, {START_NODE: {v.name: v.type for v in spec_iface.inputs}})
    inputs = {
        v.name: Promise(OutputRef(START_NODE, v.name), v.type, name, f"input '{v.name}'")
        for v in spec_iface.inputs
    }
    outputs = _outputs(trace, name, iface, _traced(trace, fn, inputs))
    handler = None
    if on_failure is not None:
        handler = _failure_handler(name, on_failure, spec_iface)
        _add_task(trace, on_failure, f"workflow '{name}': on_failure")
    return _finish(trace, name, iface, spec_iface, outputs, project, domain, failure_policy,
                   handler)


def compile_dynamic(
    name: str, fn: Callable[..., Any], inputs: dict[str, Any], iface: PythonInterface,
    project: str, domain: str,
) -> tuple[CompiledWorkflow, dict[str, Any]]:
    """Trace the body of a ``@dynamic`` task called with real ``inputs``.

    Loops and conditions on the values run as Python; every value (not promise) the
    body passes to a task becomes an input ``v0, v1, ...`` of the resulting workflow,
    returned with its value, so that dataframes and files need no JSON form.
    """
    trace = Trace(name, {START_NODE: {}}, runtime_values={})
    outputs = _outputs(trace, name, iface, _traced(trace, fn, inputs))
    values = trace.runtime_values or {}
    py_inputs = {n: t for n, (_, t) in values.items()}
    dynamic_iface = PythonInterface(py_inputs, {}, iface.outputs, iface.output_tuple)
    spec_iface = to_spec_interface(dynamic_iface, f"dynamic '{name}'")
    compiled = _finish(trace, name, dynamic_iface, spec_iface, outputs, project, domain,
                       WorkflowFailurePolicy.FAIL_IMMEDIATELY, None)
    return compiled, {n: v for n, (v, _) in values.items()}


def _traced(trace: Trace, fn: Callable[..., Any], inputs: dict[str, Any]) -> Any:
    """Call a workflow body under ``trace``; the caller's trace, if any, comes back after."""
    token = TRACE.set(trace)
    try:
        return fn(**inputs)
    finally:
        TRACE.reset(token)


def _outputs(trace: Trace, name: str, iface: PythonInterface,
             returned: Any) -> list[tuple[str, Binding]]:
    try:
        values = iface.unpack_outputs(returned, f"workflow '{name}'")
    except InterfaceError as e:
        raise CompileError(str(e)) from None
    outputs = []
    for (out, py_type), value in zip(iface.outputs.items(), values, strict=True):
        target = TypeEngine.to_literal_type(py_type)
        where = f"workflow '{name}': output '{out}'"
        outputs.append((out, _to_binding(trace, value, py_type, target, where)))
    return outputs


def _finish(trace: Trace, name: str, iface: PythonInterface, spec_iface: Interface,
            outputs: list[tuple[str, Binding]], project: str, domain: str,
            failure_policy: WorkflowFailurePolicy, handler: Node | None) -> CompiledWorkflow:
    """The spec of a traced body: conditionals closed, validated, versioned."""
    if trace.open_arms:
        raise CompileError(f"workflow '{name}': a conditional arm was opened with if_()/elif_()"
                           "/else_() but never closed with then() or fail()")
    for branch_id, builder in trace.branches.items():
        index = next(i for i, n in enumerate(trace.nodes) if n.id == branch_id)
        trace.nodes[index] = builder.node()
    tasks = {t.name: t.spec() for t in trace.tasks.values()}
    spec = WorkflowSpec(
        Identifier(ResourceType.WORKFLOW, project, domain, name, ""),
        spec_iface,
        tuple(trace.nodes),
        tuple(outputs),
        tasks,
        failure_policy,
        handler,
    )
    spec = spec.with_version(_version(spec))
    validate_workflow(spec)
    return CompiledWorkflow(spec, iface, dict(trace.tasks))


def _failure_handler(workflow: str, handler: TaskLike, inputs: Interface) -> Node:
    """The on_failure node: each handler input is a workflow input of that name and type,
    except ``err``, which receives the error (a FlyteError) from the engine."""
    where = f"workflow '{workflow}': on_failure handler '{handler.name}'"
    bindings = []
    for var in handler.spec().interface.inputs:
        if var.name == ON_FAILURE_ERROR:
            if "FlyteError" not in str(var.type):
                raise CompileError(f"{where}: input 'err' must be FlyteError or "
                                   f"Optional[FlyteError], not {var.type}")
            continue
        source = inputs.input(var.name)
        if source is None:
            if var.has_default:
                continue
            raise CompileError(f"{where}: input '{var.name}' is not an input of the "
                               f"workflow; the handler takes the workflow's inputs and 'err'")
        if not is_assignable(source.type, var.type):
            raise CompileError(f"{where}: input '{var.name}' expects {var.type}, the "
                               f"workflow's input is {source.type}")
        bindings.append((var.name, OutputRef(START_NODE, var.name)))
    return Node(ON_FAILURE_NODE, handler.name, tuple(bindings))


def _version(spec: WorkflowSpec) -> str:
    return hashlib.sha256(spec.to_json().encode()).hexdigest()[:16]


def _bind_call(trace: Trace, callee: str, iface: PythonInterface, spec_iface: Interface,
               args: tuple[Any, ...], kwargs: dict[str, Any], where: str) -> dict[str, Binding]:
    """Type-checked bindings of a call's arguments, by input name."""
    names = list(iface.inputs)
    if len(args) > len(names):
        raise BindingError(f"{where}: takes {len(names)} inputs but {len(args)} were given")
    bound = dict(zip(names, args, strict=False))
    for k, v in kwargs.items():
        if k in bound:
            raise BindingError(f"{where}: input '{k}' is given twice")
        bound[k] = v
    for k in bound:
        if k not in iface.inputs:
            raise BindingError(
                f"{where}: unknown input '{k}'; {callee} takes {_signature(spec_iface)}"
            )
    missing = [v.name for v in spec_iface.inputs if v.name not in bound and not v.has_default]
    if missing:
        raise BindingError(
            f"{where}: missing input(s) {', '.join(repr(m) for m in missing)}; {callee} "
            f"takes {_signature(spec_iface)}"
        )
    return {
        var.name: _to_binding(trace, bound[var.name], iface.inputs[var.name], var.type,
                              f"{where}: input '{var.name}'")
        for var in spec_iface.inputs if var.name in bound
    }


def _add_task(trace: Trace, task: TaskLike, where: str) -> None:
    known = trace.tasks.get(task.name)
    if known is not None and known is not task and known.spec() != task.spec():
        raise CompileError(
            f"{where}: two different tasks are named '{task.name}'; give one another name "
            "with @task(name=...)"
        )
    trace.tasks[task.name] = task


def add_task_node(task: TaskLike, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Record a call of ``task`` in the workflow being traced; return its promises."""
    trace = current_trace()
    node_id = f"n{trace.next_id()}"
    source = call_site()
    where = f"workflow '{trace.workflow}', node '{node_id}' (task '{task.name}', at {source})"
    spec = task.spec()
    bound = _bind_call(trace, f"task '{task.name}'", task.python_interface, spec.interface,
                       args, kwargs, where)
    _add_task(trace, task, where)
    node = Node(node_id, task.name, tuple(bound.items()), source=source)
    trace.add_node(node)
    trace.output_types[node_id] = {v.name: v.type for v in spec.interface.outputs}
    promises = [
        Promise(OutputRef(node_id, v.name), v.type, trace.workflow,
                f"output '{v.name}' of task '{task.name}'")
        for v in spec.interface.outputs
    ]
    if not promises:  # flytekit's VoidPromise: nothing to pass on, but it can be ordered
        return NodeHandle(node_id, trace.workflow, {})
    return task.python_interface.pack_outputs(promises)


def add_subworkflow_node(child: CompiledWorkflow, args: tuple[Any, ...],
                         kwargs: dict[str, Any]) -> Any:
    """Inline the compiled ``child`` workflow as nodes ``<id>-<child node id>``.

    Its nodes join the caller's DAG, so they run in parallel with everything else
    exactly as the caller's own nodes do; its outputs become promises. Its
    conditionals come along with every node id they name renamed the same way.
    """
    trace = current_trace()
    prefix = f"n{trace.next_id()}"
    source = call_site()
    name = child.spec.id.name
    where = f"workflow '{trace.workflow}', node '{prefix}' (sub-workflow '{name}', at {source})"
    bound = _bind_call(trace, f"workflow '{name}'", child.python_interface,
                       child.spec.interface, args, kwargs, where)
    for var in child.spec.interface.inputs:
        if var.name not in bound:
            bound[var.name] = Constant(var.default)
    inlining = _Inlining(prefix, bound, child, where)
    for task in child.tasks.values():
        _add_task(trace, task, where)
    # Nodes inside an arm of the child's conditionals stay gated by that arm only; the
    # others join the caller's open arm, if the call is inside one.
    gated = {m for n in child.spec.nodes if n.branch is not None
             for case in n.branch.cases for m in case.nodes}
    for node in child.spec.nodes:
        new = inlining.node(node)
        if node.id in gated:
            trace.nodes.append(new)
        else:
            trace.add_node(new)
        if node.gate is not None:
            trace.output_types[new.id] = gate_outputs(node.gate)
            continue
        outputs = (node.branch.outputs if node.branch is not None
                   else child.spec.tasks[node.task].interface.outputs)
        trace.output_types[new.id] = {v.name: v.type for v in outputs}
    promises = []
    for out, b in child.spec.outputs:
        target = inlining.binding(b)
        out_var = child.spec.interface.output(out)
        assert out_var is not None
        if isinstance(target, Constant):
            py_type = child.python_interface.outputs[out]
            promises.append(TypeEngine.from_json(target.value, py_type))
        elif isinstance(target, OutputRef):
            promises.append(Promise(target, out_var.type, trace.workflow,
                                    f"output '{out}' of workflow '{name}'"))
        else:
            raise NotYetSupportedError(
                f"{where}: output '{out}' of a sub-workflow built from a list or dict of "
                "promises"
            )
    return child.python_interface.pack_outputs(promises)


@dataclass(frozen=True)
class _Inlining:
    """How the nodes of one inlined sub-workflow are renamed and rebound in the caller."""

    prefix: str
    bound: dict[str, Binding]  # child input -> the caller's binding of it
    child: CompiledWorkflow
    where: str

    def node_id(self, node_id: str) -> str:
        return f"{self.prefix}-{node_id}"

    def binding(self, b: Binding) -> Binding:
        if isinstance(b, OutputRef):
            if b.node_id == START_NODE:
                return self._bound(b)
            return replace(b, node_id=self.node_id(b.node_id))
        if isinstance(b, BindingList):
            return BindingList(tuple(self.binding(i) for i in b.items))
        if isinstance(b, BindingMap):
            return BindingMap(tuple((k, self.binding(i)) for k, i in b.items))
        return b

    def _bound(self, b: OutputRef) -> Binding:
        """The caller's binding of the child input ``b`` reads (of its part, for a path)."""
        try:
            return with_path(self.bound[b.var], b.path)
        except DataError as e:
            raise BindingError(f"{self.where}: sub-workflow input '{b.var}': {e}") from None

    def node(self, node: Node) -> Node:
        branch = node.branch
        if branch is not None:
            branch = replace(branch, cases=tuple(self._case(branch.name, c)
                                                 for c in branch.cases))
        return replace(
            node, id=self.node_id(node.id),
            inputs=tuple((k, self.binding(b)) for k, b in node.inputs),
            extra_upstream=tuple(self.node_id(u) for u in node.extra_upstream),
            branch=branch,
        )

    def _case(self, branch: str, case: Case) -> Case:
        outputs = []
        for out, b in case.outputs:
            target = self.binding(b)
            if not isinstance(target, OutputRef):
                # The driver hands a taken arm's outputs on as ObjectRefs of a node or input.
                raise NotYetSupportedError(
                    f"{self.where}: conditional '{branch}' gives its output '{out}' from a "
                    f"sub-workflow input bound to {_kind_of(target)} by the caller; return "
                    "the value from a task call inside the arm instead"
                )
            outputs.append((out, target))
        condition = self._condition(branch, case.condition) if case.condition else None
        return replace(case, condition=condition, nodes=tuple(map(self.node_id, case.nodes)),
                       outputs=tuple(outputs))

    def _condition(self, branch: str, c: Condition) -> Condition:
        if isinstance(c, Conjunction):
            return Conjunction(c.op, self._condition(branch, c.left),
                               self._condition(branch, c.right))
        right = self._operand(branch, c.right) if c.right is not None else None
        return Comparison(c.op, self._operand(branch, c.left), right)

    def _operand(self, branch: str, b: Binding) -> Binding:
        """A condition operand rebound: still a reference, or a constant compared as is."""
        if not isinstance(b, OutputRef) or b.node_id != START_NODE:
            return self.binding(b)  # the child's own constants and node outputs
        target = self._bound(b)
        if isinstance(target, OutputRef):
            return target
        if isinstance(target, Constant):
            # The driver compares a constant in its JSON form, which is the Python value
            # only for scalars (not for enums, dates, dataclasses).
            value = target.value if b.path else TypeEngine.from_json(
                target.value, self.child.python_interface.inputs[b.var])
            if value is None or type(value) in _SCALARS:
                return target
        raise NotYetSupportedError(
            f"{self.where}: conditional '{branch}' compares sub-workflow input '{b.var}', "
            f"which the caller binds to {_kind_of(target)}; bind it to a promise, or to an "
            "int, float, str, bool or None constant"
        )


_SCALARS = (bool, int, float, str)


def _kind_of(b: Binding) -> str:
    if isinstance(b, Constant):
        return f"the constant {b.value!r}"
    return "a list of promises" if isinstance(b, BindingList) else "a dict of promises"


def _signature(iface: Interface) -> str:
    parts = [f"{v.name}: {v.type}" + (" = ..." if v.has_default else "")
             for v in iface.inputs]
    return "(" + ", ".join(parts) + ")"


def _to_binding(
    trace: Trace, value: Any, py_type: Any, target: LiteralType, where: str
) -> Binding:
    if isinstance(value, ConditionalSection):
        raise BindingError(
            f"{where}: uses {value!r}: without an else_() arm the conditional has no output "
            "when no condition holds; add .else_().then(...) or .else_().fail(...)"
        )
    if isinstance(value, Promise):
        if value.workflow != trace.workflow:
            raise BindingError(f"{where}: uses a promise of workflow '{value.workflow}'")
        source = path_type(trace.output_types[value.ref.node_id][value.ref.var],
                           value.ref.path)
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
    if trace.runtime_values is not None:  # in a @dynamic body: pass the value itself
        name = f"v{len(trace.runtime_values)}"
        trace.runtime_values[name] = (value, py_type)
        trace.output_types[START_NODE][name] = TypeEngine.to_literal_type(py_type)
        return OutputRef(START_NODE, name)
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
