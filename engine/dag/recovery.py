"""Which nodes an execution may take from an earlier one instead of running them.

A pure function over the spec: recovery (and a remote driver resuming after a restart)
offers the outputs of nodes that succeeded before; the executor takes those it can.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.dag.branching import gates
from engine.dag.spec import START_NODE, WorkflowSpec, condition_refs


def recoverable(spec: WorkflowSpec,
                offered: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The offered outputs (node id -> output name -> value) the executor may use.

    A node is taken only when it is a task node of ``spec``, every output of its task is
    offered, and every node upstream of it is taken too: a node that runs again may
    produce other values, and whatever depends on them must run again as well. Likewise
    a node inside a conditional's arm needs the operands of that conditional (and of any
    conditional around it) taken, so the arm is sure to be taken again. Branch nodes are
    never taken; they decide again, on recovered operands, at no cost.
    """
    nodes = {n.id: n for n in spec.nodes}
    gate = gates(spec)
    taken: dict[str, dict[str, Any]] = {}
    for node in spec.nodes:
        values = offered.get(node.id)
        if values is None or node.branch is not None or node.task not in spec.tasks:
            continue
        names = {v.name for v in spec.tasks[node.task].interface.outputs}
        if names <= set(values):
            taken[node.id] = {name: values[name] for name in names}

    def needs(node_id: str) -> set[str]:
        """Nodes that must be taken for ``node_id`` to be."""
        needed = set(nodes[node_id].upstream())
        while node_id in gate:
            node_id = gate[node_id][0]
            branch = nodes[node_id].branch
            assert branch is not None  # gates() maps arm members to branch nodes
            needed |= {r.node_id for case in branch.cases if case.condition
                       for r in condition_refs(case.condition) if r.node_id != START_NODE}
        return needed

    changed = True
    while changed:  # dropping one node may drop others: repeat until nothing changes
        changed = False
        for node_id in list(taken):
            if not needs(node_id) <= set(taken):
                del taken[node_id]
                changed = True
    return taken
