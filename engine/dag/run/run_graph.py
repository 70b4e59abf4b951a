"""The compiled workflow as the execution driver reads it: lookups fixed for a whole run.

Built once per execution from a :class:`CompiledWorkflow`; never changed afterwards. What
changes while the execution runs lives in :class:`engine.dag.run.run_state.RunState`.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.dag.branching import gates
from engine.dag.compiler import CompiledWorkflow
from engine.dag.graph import downstream_of, topological_order
from engine.dag.overrides import OverriddenTask
from engine.dag.spec import Node, TaskMetadata, WorkflowSpec
from engine.dag.trace import TaskLike


@dataclass(frozen=True)
class RunGraph:
    """The nodes of one execution, their edges both ways and the tasks they run.

    A *unit* is what the attempts of several nodes share (one object-store box, one Ray
    remote): a task, named as in ``compiled.tasks``, or a node with overrides, named by
    its node id, since its task runs with other resources.
    """

    # The workflow's spec and the Python objects that run its tasks.
    compiled: CompiledWorkflow
    # Every node after its upstream nodes.
    order: list[str]
    # Each node's index in ``order``: attempts that end together are recorded in it.
    position: dict[str, int]
    # Each node by id.
    nodes: dict[str, Node]
    # The nodes each node waits for (Node.upstream), and the reverse: the nodes waiting
    # for each node.
    upstream: dict[str, list[str]]
    children: dict[str, list[str]]
    # For each node inside a conditional's arm, the innermost such arm:
    # (branch node id, arm index).
    gate: dict[str, tuple[str, int]]
    # Nodes with .with_overrides(...): their task with the overrides applied.
    overridden: dict[str, TaskLike]

    @classmethod
    def of(cls, compiled: CompiledWorkflow) -> RunGraph:
        spec = compiled.spec
        order = topological_order(spec)
        upstream = {n.id: n.upstream() for n in spec.nodes}
        children: dict[str, list[str]] = {n.id: [] for n in spec.nodes}
        for node_id, ups in upstream.items():
            for u in ups:
                children[u].append(node_id)
        return cls(
            compiled=compiled,
            order=order,
            position={n: i for i, n in enumerate(order)},
            nodes={n.id: n for n in spec.nodes},
            upstream=upstream,
            children=children,
            gate=gates(spec),
            overridden={n.id: OverriddenTask(compiled.tasks[n.task], n.overrides)
                        for n in spec.nodes if n.overrides is not None},
        )

    @property
    def spec(self) -> WorkflowSpec:
        return self.compiled.spec

    @property
    def name(self) -> str:
        """The workflow's name, as error messages give it."""
        return self.spec.id.name

    def unit(self, node_id: str) -> str:
        """The unit whose box and remote the attempts of ``node_id`` use."""
        return node_id if node_id in self.overridden else self.nodes[node_id].task

    def unit_task(self, unit: str) -> TaskLike:
        """What the attempts of ``unit`` run: a task, with a node's overrides for a node."""
        return self.overridden.get(unit) or self.compiled.tasks[unit]

    def task_name(self, unit: str) -> str:
        """The name of the task ``unit`` runs (for an overridden node, its task's)."""
        return self.nodes[unit].task if unit in self.overridden else unit

    def task(self, node_id: str) -> TaskLike:
        """What a node runs: its task, with the node's overrides if it has any."""
        return self.unit_task(self.unit(node_id))

    def metadata(self, node_id: str) -> TaskMetadata:
        return self.task(node_id).spec().metadata

    def downstream(self, node_id: str) -> list[str]:
        """Every node that depends on ``node_id``, directly or not."""
        return downstream_of(self.spec, node_id)
