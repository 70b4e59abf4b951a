"""The workflow's on_failure handler: a task run once after a node failed for good.

It runs with the workflow's inputs and, where it declares the input, the error; its
record is a node of its own next to the workflow's (``ON_FAILURE_NODE``), which ends
SUCCEEDED or FAILED. Its failure changes nothing else: the execution fails with the
node's error either way.
"""

from __future__ import annotations

import time

import ray
from ray.exceptions import RayError, RayTaskError

from engine.dag.run.node_calls import NodeCalls, bind
from engine.dag.run.run_state import RunState, SetPhase
from engine.dag.run.state import NodePhase, NodeRecord
from engine.dag.run.worker import AttemptInfo
from engine.dag.spec import ON_FAILURE_ERROR, Node
from engine.errors import AttemptError, ErrorKind, NodeFailedError
from engine.types.error import FlyteError


def run_on_failure(node: Node, error: NodeFailedError, state: RunState, calls: NodeCalls,
                   set_phase: SetPhase) -> None:
    """Run the handler ``node`` with ``error`` and wait for it; record how it went."""
    task = state.graph.compiled.tasks[node.task]
    state.add_node(NodeRecord(node.id, node.task))
    attempt = state.record.begin_attempt(node.id, time.time())
    template, refs = bind(node.inputs, task.python_interface.inputs, state.ref)
    if ON_FAILURE_ERROR in task.python_interface.inputs:
        template[ON_FAILURE_ERROR] = FlyteError(error.cause, error.node_id)
    status = calls.start_handler(node, template, refs)
    set_phase(node.id, NodePhase.RUNNING)
    try:
        info = AttemptInfo.from_wire(ray.get(status))
    except RayError as e:
        cause = e.cause if isinstance(e, RayTaskError) else None
        attempt.end, attempt.outcome = time.time(), NodePhase.FAILED
        attempt.error_kind = cause.kind if isinstance(cause, AttemptError) else ErrorKind.SYSTEM
        attempt.error = cause.message if isinstance(cause, AttemptError) else str(e)
        set_phase(node.id, NodePhase.FAILED)
        return
    attempt.start, attempt.end, attempt.outcome = info.start, info.end, NodePhase.SUCCEEDED
    set_phase(node.id, NodePhase.SUCCEEDED)
