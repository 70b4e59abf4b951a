"""How the execution driver runs conditionals (branch nodes).

Nodes inside an arm are held back until their branch is decided; a branch is
decided once the nodes its conditions read have succeeded; the arms not taken
are SKIPPED, nested ones included, and the branch's outputs become the taken
arm's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import ray

from engine.dag.branching import holds
from engine.dag.run.run_state import RunState, SetPhase
from engine.dag.run.state import NodePhase
from engine.dag.spec import (
    START_NODE,
    Binding,
    BranchSpec,
    Constant,
    OutputRef,
    condition_refs,
    follow,
)
from engine.errors import ErrorKind, NodeFailedError


class BranchSteps:
    """The steps of the conditionals of one execution, on its run state."""

    def __init__(self, state: RunState, set_phase: SetPhase) -> None:
        self.state = state
        self.set_phase = set_phase

    def held_back(self, node_id: str) -> bool:
        """Whether ``node_id`` is inside an arm of a branch not decided yet."""
        gate = self.state.graph.gate.get(node_id)
        return gate is not None and gate[0] not in self.state.decided

    def step(self, node_id: str) -> bool:
        """Decide the branch when its operands are computed; alias its taken arm's
        outputs once they are submitted. Whether anything changed."""
        branch = self._branch(node_id)
        if node_id not in self.state.decided:
            operands = {r.node_id for c in branch.cases if c.condition
                        for r in condition_refs(c.condition) if r.node_id != START_NODE}
            if not all(self.state.record.nodes[o].phase.has_outputs for o in operands):
                return False
            self._decide(node_id)
            return True
        taken = self.state.decided[node_id]
        sources = branch.cases[taken].outputs if taken is not None else ()
        if not all(self.state.is_submitted(b.node_id) for _, b in sources
                   if isinstance(b, OutputRef) and b.node_id != START_NODE):
            return False
        self.state.dequeue(node_id)
        self.alias(node_id)
        self.set_phase(node_id, NodePhase.SUCCEEDED)
        return True

    def decide_recovered(self, recovered: Iterable[str]) -> None:
        """Decide recovered branches again, on their recovered operands (so for the arm
        they took before, whose nodes are recovered too): their other arms are SKIPPED."""
        for node_id in recovered:
            if self.state.graph.nodes[node_id].branch is not None:
                self._decide(node_id)

    def alias(self, node_id: str) -> None:
        """Point the outputs of the decided branch ``node_id`` at its taken arm's (again,
        after a node of that arm is resubmitted)."""
        branch = self._branch(node_id)
        taken = self.state.decided[node_id]
        outputs = branch.cases[taken].outputs if taken is not None else ()
        self.state.alias(node_id, {name: self.state.ref(b) for name, b in outputs
                                   if isinstance(b, OutputRef)})

    def _decide(self, node_id: str) -> None:
        """Take the first arm whose condition holds and skip the others (or fail, where
        the arm taken is a ``fail``); its operands' values must exist."""
        branch = self._branch(node_id)
        taken = next((i for i, c in enumerate(branch.cases)
                      if c.condition is None or holds(c.condition, self._value)), None)
        self.state.decide(node_id, taken)
        for index, case in enumerate(branch.cases):
            if index != taken:
                self._skip_arm(case.nodes)
        if taken is not None and branch.cases[taken].fail is not None:
            message = branch.cases[taken].fail or ""
            self.state.dequeue(node_id)
            self.set_phase(node_id, NodePhase.FAILED)
            raise NodeFailedError(self.state.graph.name, node_id,
                                  f"conditional '{branch.name}'", 1, ErrorKind.USER, message)

    def _skip_arm(self, members: tuple[str, ...]) -> None:
        for member in members:
            self.state.dequeue(member)
            self.set_phase(member, NodePhase.SKIPPED)
            nested = self.state.graph.nodes[member].branch
            if nested is not None:
                for case in nested.cases:
                    self._skip_arm(case.nodes)

    def _value(self, binding: Binding) -> Any:
        """The Python value of a condition operand (small: fetched by the driver)."""
        if isinstance(binding, Constant):
            return binding.value
        assert isinstance(binding, OutputRef)
        if binding.node_id == START_NODE:
            return follow(self.state.inputs[binding.var], binding.path)
        return follow(ray.get(self.state.output_ref(binding.node_id, binding.var)),
                      binding.path)

    def _branch(self, node_id: str) -> BranchSpec:
        branch = self.state.graph.nodes[node_id].branch
        assert branch is not None, f"node '{node_id}' is not a branch"
        return branch
