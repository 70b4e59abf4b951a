"""The state of a workflow being traced, held in a ContextVar while its body runs.

A leaf for the compiler and for promises: ``p1 >> p2`` orders nodes of the trace.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field, fields, replace
from typing import Any, Protocol

from engine.dag.spec import START_NODE, Node, NodeOverrides, TaskSpec
from engine.errors import CompileError
from engine.types.interface import PythonInterface
from engine.types.literal import LiteralType


class BranchBuilder(Protocol):
    """A conditional under construction (see engine.dag.conditional)."""

    def add_member(self, arm: int, node_id: str) -> None: ...

    def node(self) -> Node: ...


class TaskLike(Protocol):
    """What the compiler needs of a task object."""

    name: str
    python_interface: PythonInterface

    def spec(self) -> TaskSpec: ...

    def run_function(self, inputs: dict[str, Any]) -> list[Any]: ...


@dataclass
class Trace:
    """State of one workflow being traced."""

    workflow: str
    # Node id -> output name -> type, START_NODE holding the workflow inputs.
    output_types: dict[str, dict[str, LiteralType]]
    nodes: list[Node] = field(default_factory=list)
    tasks: dict[str, TaskLike] = field(default_factory=dict)
    # Calls recorded so far: node ids are n0, n1, ... (inlined sub-workflows take one).
    calls: int = 0
    # Conditionals being built, by branch node id, and the arms open right now
    # (innermost last): nodes created while an arm is open run only if it is taken.
    branches: dict[str, BranchBuilder] = field(default_factory=dict)
    open_arms: list[tuple[str, int]] = field(default_factory=list)
    # In a @dynamic body: values passed to tasks, by the workflow input name they get,
    # with their declared type; None when tracing a @workflow.
    runtime_values: dict[str, tuple[Any, Any]] | None = None

    def add_node(self, node: Node) -> None:
        """Append ``node``, as a member of the innermost open arm if there is one."""
        self.nodes.append(node)
        if self.open_arms:
            branch, arm = self.open_arms[-1]
            self.branches[branch].add_member(arm, node.id)

    def next_id(self) -> int:
        self.calls += 1
        return self.calls - 1


TRACE: contextvars.ContextVar[Trace | None] = contextvars.ContextVar("flyray_trace", default=None)


def is_compiling() -> bool:
    """Whether a workflow is being traced in this context."""
    return TRACE.get() is not None


def current_trace() -> Trace:
    trace = TRACE.get()
    if trace is None:
        raise CompileError("this can only be used inside a @workflow body")
    return trace


def override(node_id: str, workflow: str, overrides: NodeOverrides) -> None:
    """Give node ``node_id`` of the trace ``overrides`` (merged with earlier ones)."""
    trace = current_trace()
    if trace.workflow != workflow:
        raise CompileError(f"workflow '{trace.workflow}': with_overrides() on a node of "
                           f"another workflow ('{workflow}')")
    for i, node in enumerate(trace.nodes):
        if node.id == node_id:
            if node.branch is not None:
                raise CompileError(f"workflow '{workflow}': with_overrides() applies to task "
                                   "nodes, not to a conditional")
            if node.gate is not None:
                raise CompileError(f"workflow '{workflow}': with_overrides() applies to task "
                                   f"nodes, not to the gate {node.gate.label}")
            old = node.overrides or NodeOverrides()
            merged = NodeOverrides(*(new if new is not None else prev for new, prev in zip(
                astuple_shallow(overrides), astuple_shallow(old), strict=True)))
            trace.nodes[i] = replace(node, overrides=merged)
            return
    raise CompileError(f"workflow '{workflow}': no node '{node_id}' to override")


def astuple_shallow(value: Any) -> tuple[Any, ...]:
    return tuple(getattr(value, f.name) for f in fields(value))


def order(before: str, after: str, workflow: str) -> None:
    """Make node ``after`` wait for node ``before`` (``a >> b``)."""
    trace = current_trace()
    if trace.workflow != workflow:
        raise CompileError(f"workflow '{trace.workflow}': '>>' between nodes of another "
                           f"workflow ('{workflow}')")
    if START_NODE in (before, after):
        raise CompileError(f"workflow '{workflow}': a workflow input is not a node; '>>' "
                           "orders task nodes")
    for i, node in enumerate(trace.nodes):
        if node.id == after:
            if before not in node.extra_upstream:
                trace.nodes[i] = replace(node, extra_upstream=(*node.extra_upstream, before))
            return
    raise CompileError(f"workflow '{workflow}': no node '{after}' to order")
