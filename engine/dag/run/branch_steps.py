"""The part of the execution driver that runs conditionals (branch nodes).

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
from engine.dag.run.state import ExecutionRecord, NodePhase
from engine.dag.spec import START_NODE, Binding, Constant, Node, OutputRef, condition_refs
from engine.errors import ErrorKind, NodeFailedError


class BranchSteps:
    """Mixed into the driver; the attributes below are the driver's."""

    spec: Any
    record: ExecutionRecord
    nodes: dict[str, Node]
    upstream: dict[str, list[str]]
    current: dict[str, Any]
    inputs: dict[str, Any]
    input_refs: dict[str, ray.ObjectRef]
    # The arm gating each node, the arm each decided branch took (None: no arm), the
    # outputs of decided branches (their taken arm's), and the nodes still to submit.
    gate: dict[str, tuple[str, int]]
    decided: dict[str, int | None]
    aliases: dict[str, dict[str, ray.ObjectRef]]
    unsubmitted: list[str]

    def _submit(self, node_id: str) -> None:
        raise NotImplementedError

    def _set_phase(self, node_id: str, phase: NodePhase) -> None:
        raise NotImplementedError

    def _advance(self) -> None:
        """Submit every node that can go now; decide branches whose operands exist."""
        progress = True
        while progress:
            progress = False
            for node_id in list(self.unsubmitted):
                gate = self.gate.get(node_id)
                if gate is not None and gate[0] not in self.decided:
                    continue  # inside an arm of a branch not decided yet
                node = self.nodes[node_id]
                if node.branch is not None:
                    progress |= self._branch_step(node_id)
                elif all(self._submitted(u) for u in self.upstream[node_id]):
                    self.unsubmitted.remove(node_id)
                    self._submit(node_id)
                    progress = True

    def _submitted(self, node_id: str) -> bool:
        return node_id in self.current or node_id in self.aliases

    def _branch_step(self, node_id: str) -> bool:
        """Decide the branch when its operands are computed; alias its taken arm's outputs."""
        branch = self.nodes[node_id].branch
        assert branch is not None
        if node_id not in self.decided:
            operands = {r.node_id for c in branch.cases if c.condition
                        for r in condition_refs(c.condition) if r.node_id != START_NODE}
            if not all(self.record.nodes[o].phase.has_outputs for o in operands):
                return False
            self._decide(node_id)
            return True
        taken = self.decided[node_id]
        sources = branch.cases[taken].outputs if taken is not None else ()
        if not all(self._submitted(b.node_id) for _, b in sources
                   if isinstance(b, OutputRef) and b.node_id != START_NODE):
            return False
        self.unsubmitted.remove(node_id)
        self._alias(node_id)
        self._set_phase(node_id, NodePhase.SUCCEEDED)
        return True

    def _decide(self, node_id: str) -> None:
        """Take the first arm whose condition holds and skip the others (or fail, where
        the arm taken is a ``fail``); its operands' values must exist."""
        branch = self.nodes[node_id].branch
        assert branch is not None
        taken = next((i for i, c in enumerate(branch.cases)
                      if c.condition is None or holds(c.condition, self._value)), None)
        self.decided[node_id] = taken
        self.record.nodes[node_id].arm = taken
        for index, case in enumerate(branch.cases):
            if index != taken:
                self._skip_arm(case.nodes)
        if taken is not None and branch.cases[taken].fail is not None:
            message = branch.cases[taken].fail or ""
            self.unsubmitted.remove(node_id)
            self._set_phase(node_id, NodePhase.FAILED)
            raise NodeFailedError(self.spec.id.name, node_id, f"conditional '{branch.name}'",
                                  1, ErrorKind.USER, message)

    def _decide_recovered(self, recovered: Iterable[str]) -> None:
        """Decide recovered branches again, on their recovered operands (so for the arm
        they took before, whose nodes are recovered too): their other arms are SKIPPED."""
        for node_id in recovered:
            if self.nodes[node_id].branch is not None:
                self._decide(node_id)

    def _alias(self, node_id: str) -> None:
        branch = self.nodes[node_id].branch
        assert branch is not None
        taken = self.decided[node_id]
        outputs = branch.cases[taken].outputs if taken is not None else ()
        self.aliases[node_id] = {
            name: self.input_refs[b.var] if b.node_id == START_NODE
            else self._output_ref(b.node_id, b.var)
            for name, b in outputs if isinstance(b, OutputRef)
        }

    def _skip_arm(self, members: tuple[str, ...]) -> None:
        for member in members:
            if member in self.unsubmitted:
                self.unsubmitted.remove(member)
            self._set_phase(member, NodePhase.SKIPPED)
            nested = self.nodes[member].branch
            if nested is not None:
                for case in nested.cases:
                    self._skip_arm(case.nodes)

    def _value(self, binding: Binding) -> Any:
        """The Python value of a condition operand (small: fetched by the driver)."""
        if isinstance(binding, Constant):
            return binding.value
        assert isinstance(binding, OutputRef)
        if binding.node_id == START_NODE:
            return self.inputs[binding.var]
        return ray.get(self._output_ref(binding.node_id, binding.var))

    def _output_ref(self, node_id: str, var: str) -> ray.ObjectRef:
        if node_id in self.aliases:
            return self.aliases[node_id][var]
        ref: ray.ObjectRef = self.current[node_id].outputs[var]
        return ref
