"""Consistency checks of a :class:`WorkflowSpec`, shared by the compiler and the loader."""

from __future__ import annotations

import json
from collections.abc import Callable

from engine.dag.graph import find_cycle
from engine.dag.spec import (
    APPROVE_INPUT,
    GATE_OUTPUT,
    START_NODE,
    Binding,
    BindingList,
    BindingMap,
    Constant,
    GateKind,
    GateSpec,
    Node,
    OutputRef,
    WorkflowSpec,
    condition_refs,
    describe_path,
    path_type,
    refs_of,
)
from engine.errors import SpecError
from engine.types.literal import Kind, LiteralType, is_assignable, literal_matches

TypeOfRef = Callable[[OutputRef], LiteralType]


def binding_mismatch(binding: Binding, target: LiteralType, type_of: TypeOfRef) -> str | None:
    """Why ``binding`` cannot feed an input of type ``target``, or None when it can.

    ``type_of`` gives the type of a referenced output (it may raise KeyError for a
    dangling reference; callers check references first).
    """
    if isinstance(binding, OutputRef):
        source = type_of(binding)
        if is_assignable(source, target):
            return None
        return f"expected {target}, got {source} from {_describe_ref(binding)}"
    if isinstance(binding, Constant):
        if literal_matches(binding.value, target):
            return None
        return f"expected {target}, got the constant {json.dumps(binding.value)[:80]}"
    if target.kind is Kind.UNION:
        reasons = [binding_mismatch(binding, v, type_of) for v in target.variants]
        if any(r is None for r in reasons):
            return None
        return next(r for r in reasons if r)
    if isinstance(binding, BindingList):
        if target.kind is not Kind.LIST:
            return f"expected {target}, got a list"
        assert target.item is not None
        for i, item in enumerate(binding.items):
            reason = binding_mismatch(item, target.item, type_of)
            if reason:
                return f"item [{i}]: {reason}"
        return None
    if target.kind is not Kind.MAP:
        return f"expected {target}, got a dict"
    assert isinstance(binding, BindingMap) and target.item is not None
    for key, item in binding.items:
        reason = binding_mismatch(item, target.item, type_of)
        if reason:
            return f"key {key!r}: {reason}"
    return None


def _part_type(ref: OutputRef, whole: LiteralType, where: str) -> LiteralType:
    """The type of what ``ref`` reads of an output of type ``whole``; its path must name
    a part of that type."""
    try:
        return path_type(whole, ref.path)
    except KeyError as e:
        raise SpecError(f"{where}: {describe_path(ref.path)} of {_describe_ref(ref)}: "
                        f"{e.args[0]}") from None


def _describe_ref(ref: OutputRef) -> str:
    if ref.node_id == START_NODE:
        return f"workflow input '{ref.var}'"
    return f"output '{ref.var}' of node '{ref.node_id}'"


def validate_workflow(spec: WorkflowSpec) -> None:
    """Raise :class:`SpecError` on the first inconsistency found in ``spec``."""
    where = f"workflow '{spec.id.name}'"
    outputs = _node_outputs(spec, where)

    def type_of(ref: OutputRef) -> LiteralType:
        return _part_type(ref, outputs[ref.node_id][ref.var], where)

    def check_refs(b: Binding, what: str) -> None:
        for ref in refs_of(b):
            if ref.node_id not in outputs:
                raise SpecError(f"{where}: {what} refers to unknown node '{ref.node_id}'")
            if ref.var not in outputs[ref.node_id]:
                raise SpecError(f"{where}: {what} refers to unknown {_describe_ref(ref)}")

    for node in spec.nodes:
        if node.branch is not None:
            _check_branch(node, where, outputs, check_refs, type_of)
            continue
        if node.gate is not None:
            _check_gate(node, where, check_refs, type_of)
            continue
        task = spec.tasks[node.task]
        bound = dict(node.inputs)
        for name, b in node.inputs:
            var = task.interface.input(name)
            what = f"input '{name}' of node '{node.id}'"
            if var is None:
                raise SpecError(f"{where}: node '{node.id}' binds unknown {what}")
            check_refs(b, what)
            reason = binding_mismatch(b, var.type, type_of)
            if reason:
                raise SpecError(f"{where}: {what}: {reason}")
        for var in task.interface.inputs:
            if var.name not in bound and not var.has_default:
                raise SpecError(f"{where}: node '{node.id}' leaves input '{var.name}' unbound")
        for u in node.extra_upstream:
            if u not in outputs or u == START_NODE:
                raise SpecError(f"{where}: node '{node.id}' waits for unknown node '{u}'")
    for name, b in spec.outputs:
        var = spec.interface.output(name)
        if var is None:
            raise SpecError(f"{where}: binds unknown workflow output '{name}'")
        check_refs(b, f"workflow output '{name}'")
        reason = binding_mismatch(b, var.type, type_of)
        if reason:
            raise SpecError(f"{where}: workflow output '{name}': {reason}")
    _check_signal_names(spec, where)
    cycle = find_cycle({n.id: n.upstream() for n in spec.nodes})
    if cycle:
        raise SpecError(f"{where}: nodes form a cycle: {' -> '.join(cycle)}")


def _node_outputs(spec: WorkflowSpec, where: str) -> dict[str, dict[str, LiteralType]]:
    """The output types of every node by node id, the workflow's inputs under START_NODE."""
    outputs: dict[str, dict[str, LiteralType]] = {
        START_NODE: {v.name: v.type for v in spec.interface.inputs}
    }
    for node in spec.nodes:
        if node.id in outputs:
            raise SpecError(f"{where}: node id '{node.id}' is used twice")
        if node.branch is not None:
            outputs[node.id] = {v.name: v.type for v in node.branch.outputs}
            continue
        if node.gate is not None:
            outputs[node.id] = gate_outputs(node.gate)
            continue
        task = spec.tasks.get(node.task)
        if task is None:
            raise SpecError(f"{where}: node '{node.id}' calls task '{node.task}' "
                            "which is not in the spec's tasks")
        outputs[node.id] = {v.name: v.type for v in task.interface.outputs}
    return outputs


def gate_outputs(gate: GateSpec) -> dict[str, LiteralType]:
    """The outputs of a gate node by name: its value, when it has one."""
    return {GATE_OUTPUT: gate.type} if gate.type is not None else {}


def _check_signal_names(spec: WorkflowSpec, where: str) -> None:
    """Each signal names one gate of the workflow (signals are set by name)."""
    seen: dict[str, str] = {}
    for node in spec.nodes:
        if node.gate is None or not node.gate.name:
            continue
        other = seen.setdefault(node.gate.name, node.id)
        if other != node.id:
            raise SpecError(f"{where}: nodes '{other}' and '{node.id}' both wait for the "
                            f"signal '{node.gate.name}'; give each gate its own name")


def _check_gate(node: Node, where: str, check_refs: Callable[[Binding, str], None],
                type_of: TypeOfRef) -> None:
    """A gate binds only approve's upstream value, of the gate's type."""
    assert node.gate is not None
    what = f"{node.gate.label} (node '{node.id}')"
    expected = [APPROVE_INPUT] if node.gate.kind is GateKind.APPROVE and node.gate.type else []
    if [name for name, _ in node.inputs] != expected:
        raise SpecError(f"{where}: {what} binds inputs {[n for n, _ in node.inputs]}, "
                        f"expected {expected}")
    for name, b in node.inputs:
        check_refs(b, f"input '{name}' of node '{node.id}'")
        assert node.gate.type is not None
        reason = binding_mismatch(b, node.gate.type, type_of)
        if reason:
            raise SpecError(f"{where}: {what}: input '{name}': {reason}")


def _check_branch(node: Node, where: str, outputs: dict[str, dict[str, LiteralType]],
                  check_refs: Callable[[Binding, str], None], type_of: TypeOfRef) -> None:
    assert node.branch is not None
    what = f"conditional '{node.branch.name}' (node '{node.id}')"
    for index, case in enumerate(node.branch.cases):
        arm = f"{what}, arm {index + 1}"
        for ref in condition_refs(case.condition) if case.condition else []:
            check_refs(ref, f"{arm} condition")
        for member in case.nodes:
            if member not in outputs:
                raise SpecError(f"{where}: {arm} holds unknown node '{member}'")
        if case.fail is None and len(case.outputs) != len(node.branch.outputs):
            raise SpecError(f"{where}: {arm} gives {len(case.outputs)} outputs, the "
                            f"conditional has {len(node.branch.outputs)}")
        for name, b in case.outputs:
            var = next((v for v in node.branch.outputs if v.name == name), None)
            if var is None:
                raise SpecError(f"{where}: {arm} gives unknown output '{name}'")
            check_refs(b, f"{arm} output '{name}'")
            reason = binding_mismatch(b, var.type, type_of)
            if reason:
                raise SpecError(f"{where}: {arm} output '{name}': {reason}")


def load_workflow(text: str) -> WorkflowSpec:
    """Parse a spec written by :meth:`WorkflowSpec.to_json` and validate it."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise SpecError(f"workflow spec is not valid JSON: {e}") from e
    if not isinstance(data, dict):
        raise SpecError("workflow spec must be a JSON object")
    spec = WorkflowSpec.from_dict(data)
    validate_workflow(spec)
    return spec
