"""Which nodes an execution may take from an earlier one instead of running them.

A pure function over the spec: recovery (and a remote driver resuming after a restart)
offers the outputs of nodes that succeeded before; the executor takes those it can.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.dag.branching import gates, holds
from engine.dag.graph import topological_order
from engine.dag.spec import (
    GATE_OUTPUT,
    START_NODE,
    Binding,
    Constant,
    Node,
    OutputRef,
    WorkflowSpec,
    follow,
)


def recoverable(spec: WorkflowSpec, offered: Mapping[str, Mapping[str, Any]],
                inputs: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The outputs (node id -> output name -> value) of the nodes the executor may take.

    A task node is taken when every output of its task is offered and every node upstream
    of it is taken too: a node that runs again may produce other values, and whatever
    depends on them must run again as well. A gate node that passed (it is offered only
    then) is taken likewise, with its recorded output (a wait_for_input's signal value,
    approve's approved value; a sleep has none), so it does not wait again. A node
    inside a conditional's arm also needs that conditional (and any conditional around
    it) to decide again, on taken operands and the workflow's ``inputs``, for that same
    arm.

    A branch node (a conditional) is taken when it decides an arm whose nodes are all
    taken; its outputs, never stored for it, are that arm's, so nodes after it are taken
    as after any other node. A branch that cannot decide here (an operand runs again) is
    not taken: it decides at run time, as usual.
    """
    return _Taking(spec, offered, inputs).run()


class _Taking:
    """One :func:`recoverable` call: grows the set of taken nodes until it is stable."""

    def __init__(self, spec: WorkflowSpec, offered: Mapping[str, Mapping[str, Any]],
                 inputs: Mapping[str, Any]) -> None:
        self.spec = spec
        self.offered = offered
        self.inputs = inputs
        self.nodes = {n.id: n for n in spec.nodes}
        self.gate = gates(spec)
        self.taken: dict[str, dict[str, Any]] = {}
        self.decided: dict[str, int | None] = {}  # branch -> the arm it takes (None: none)

    def run(self) -> dict[str, dict[str, Any]]:
        order = [self.nodes[node_id] for node_id in topological_order(self.spec)]
        changed = True
        while changed:  # taking one node may let others be taken: repeat until stable
            changed = False
            for node in order:
                if node.id in self.taken or not self._in_decided_arm(node.id):
                    continue
                values = self._done(node) if node.branch is None else self._branch(node)
                if values is not None:
                    self.taken[node.id] = values
                    changed = True
        return self.taken

    def _done(self, node: Node) -> dict[str, Any] | None:
        """A task or gate node's offered outputs, if it can be taken."""
        values = self.offered.get(node.id)
        if values is None:
            return None
        if node.gate is not None:  # it passed: a gate fails, or has not passed, otherwise
            names = {GATE_OUTPUT} if node.gate.type is not None else set()
        elif node.task in self.spec.tasks:
            names = {v.name for v in self.spec.tasks[node.task].interface.outputs}
        else:
            return None
        if not names <= set(values) or not set(node.upstream()) <= set(self.taken):
            return None
        return {name: values[name] for name in names}

    def _branch(self, node: Node) -> dict[str, Any] | None:
        assert node.branch is not None
        if not self._decide(node.id):
            return None
        arm = self.decided[node.id]
        if arm is None:
            return None
        case = node.branch.cases[arm]
        if case.fail is not None or not set(case.nodes) <= set(self.taken):
            return None
        try:  # as the executor aliases them: the arm's outputs that refer to one
            return {name: self._value(b) for name, b in case.outputs
                    if isinstance(b, OutputRef)}
        except KeyError:  # the arm's output comes from a node that runs again
            return None

    def _in_decided_arm(self, node_id: str) -> bool:
        """Whether every conditional around the node decides (again) for its arm."""
        while node_id in self.gate:
            branch_id, arm = self.gate[node_id]
            if not self._decide(branch_id) or self.decided[branch_id] != arm:
                return False
            node_id = branch_id
        return True

    def _decide(self, branch_id: str) -> bool:
        """Decide the branch if its operands are known; whether it is decided."""
        if branch_id in self.decided:
            return True
        branch = self.nodes[branch_id].branch
        assert branch is not None  # gates() maps arm members to branch nodes
        try:
            arm = next((i for i, c in enumerate(branch.cases)
                        if c.condition is None or holds(c.condition, self._value)), None)
        except (KeyError, TypeError, ValueError):
            # An operand runs again (KeyError), or comparing fails: then it fails at run
            # time again, where the failure is reported.
            return False
        self.decided[branch_id] = arm
        return True

    def _value(self, binding: Binding) -> Any:
        """The value of a condition operand or an arm's output; KeyError: unknown here."""
        if isinstance(binding, Constant):
            return binding.value
        if not isinstance(binding, OutputRef):
            raise KeyError(binding)  # conditions compare outputs, inputs and constants
        if binding.node_id == START_NODE:
            return follow(self.inputs[binding.var], binding.path)
        return follow(self.taken[binding.node_id][binding.var], binding.path)
