"""Pure functions over branch nodes: which arm is taken, which nodes each arm gates."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from engine.dag.spec import Binding, Comparison, Condition, WorkflowSpec

_BINARY: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge,
}


def holds(condition: Condition, value_of: Callable[[Binding], Any]) -> bool:
    """Whether ``condition`` is true, reading operands with ``value_of``."""
    if isinstance(condition, Comparison):
        left = value_of(condition.left)
        if condition.op == "is_true":
            return left is True
        if condition.op == "is_false":
            return left is False
        if condition.op == "is_none":
            return left is None
        assert condition.right is not None
        return bool(_BINARY[condition.op](left, value_of(condition.right)))
    if condition.op == "and":
        return holds(condition.left, value_of) and holds(condition.right, value_of)
    return holds(condition.left, value_of) or holds(condition.right, value_of)


def gates(spec: WorkflowSpec) -> dict[str, tuple[str, int]]:
    """Node id -> (branch node id, arm index) of the innermost arm it was created in."""
    found: dict[str, tuple[str, int]] = {}
    for node in spec.nodes:
        if node.branch is not None:
            for index, case in enumerate(node.branch.cases):
                for member in case.nodes:
                    found[member] = (node.id, index)
    return found
