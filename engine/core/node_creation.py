"""``create_node``: a node handle, for ordering nodes that share no data (``a >> b``)."""

from __future__ import annotations

from typing import Any

from engine.dag.promise import NodeHandle, Promise, node_id_of
from engine.dag.trace import current_trace


def create_node(entity: Any, *args: Any, **kwargs: Any) -> NodeHandle:
    """Call a task inside a ``@workflow`` body and return its node, as flytekit's.

    ``create_node(t1) >> create_node(t2)`` runs t2 after t1; outputs are attributes
    of the node (``node.o0``).
    """
    trace = current_trace()
    result = entity(*args, **kwargs)
    if isinstance(result, NodeHandle):
        return result
    promises = list(result) if isinstance(result, tuple) else [result]
    if not promises or not all(isinstance(p, Promise) for p in promises):
        raise TypeError(f"create_node takes a task; {entity!r} returned {result!r}")
    node_id = node_id_of(promises[0])
    return NodeHandle(node_id, trace.workflow, {p.ref.var: p for p in promises})
