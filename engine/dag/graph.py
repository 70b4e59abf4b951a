"""Pure graph algorithms over a :class:`WorkflowSpec`."""

from __future__ import annotations

from collections import deque

from engine.dag.spec import WorkflowSpec


def topological_order(spec: WorkflowSpec) -> list[str]:
    """Node ids so that every node comes after its upstream nodes.

    Ties keep declaration order. Raises ValueError naming a cycle when there is one.
    """
    upstream = {n.id: n.upstream() for n in spec.nodes}
    downstream: dict[str, list[str]] = {n.id: [] for n in spec.nodes}
    indegree = {}
    for node_id, ups in upstream.items():
        known = [u for u in ups if u in downstream]
        indegree[node_id] = len(known)
        for u in known:
            downstream[u].append(node_id)
    queue = deque(n.id for n in spec.nodes if indegree[n.id] == 0)
    order: list[str] = []
    while queue:
        node_id = queue.popleft()
        order.append(node_id)
        for d in downstream[node_id]:
            indegree[d] -= 1
            if indegree[d] == 0:
                queue.append(d)
    if len(order) != len(spec.nodes):
        cycle = find_cycle(upstream)
        raise ValueError("nodes form a cycle: " + " -> ".join(cycle))
    return order


def find_cycle(upstream: dict[str, list[str]]) -> list[str]:
    """One cycle in the graph given as node -> upstream ids, or [] when acyclic."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node_id: str) -> list[str]:
        state[node_id] = 1
        path.append(node_id)
        for u in upstream.get(node_id, ()):
            if state.get(u) == 1:
                return [*path[path.index(u) :], u]
            if u in upstream and u not in state:
                found = visit(u)
                if found:
                    return found
        path.pop()
        state[node_id] = 2
        return []

    for node_id in upstream:
        if node_id not in state:
            found = visit(node_id)
            if found:
                return found
    return []


def downstream_of(spec: WorkflowSpec, node_id: str) -> list[str]:
    """Every node that transitively depends on ``node_id``, in topological order."""
    children: dict[str, list[str]] = {n.id: [] for n in spec.nodes}
    for node in spec.nodes:
        for u in node.upstream():
            children.setdefault(u, []).append(node.id)
    seen: set[str] = set()
    stack = list(children.get(node_id, ()))
    while stack:
        child = stack.pop()
        if child not in seen:
            seen.add(child)
            stack.extend(children.get(child, ()))
    return [n for n in topological_order(spec) if n in seen]


def upstream_of(spec: WorkflowSpec, node_id: str) -> list[str]:
    """Every node ``node_id`` transitively depends on, in topological order."""
    ups = {n.id: n.upstream() for n in spec.nodes}
    seen: set[str] = set()
    stack = list(ups.get(node_id, ()))
    while stack:
        n = stack.pop()
        if n not in seen:
            seen.add(n)
            stack.extend(ups.get(n, ()))
    return [n for n in topological_order(spec) if n in seen]
