"""Execution hooks of a remote execution's driver: what happens is queued as events
for the admin database (``serve.driver.event_writer`` writes them).

A node's outputs are stored durably (inline, or in the blob store when large) in
``on_node_outputs``, which the executor calls before the node becomes SUCCEEDED; the
SUCCEEDED event carries them, so the database never holds a SUCCEEDED node whose
outputs could be lost with the driver (DESIGN, durability rule 3). A node's inputs go
with its first event once they are all stored (``serve.driver.node_inputs``), usually RUNNING.
"""

from __future__ import annotations

import logging
from typing import Any

from engine.catalog.blob import BlobStore
from engine.catalog.literals import store_value
from engine.dag.compiler import CompiledWorkflow
from engine.dag.run.hooks import ExecutionHooks
from engine.dag.run.state import AttemptRecord, ExecutionRecord, NodePhase, NodeRecord, node_rows
from engine.dag.spec import GATE_OUTPUT
from engine.errors import FlyrayError
from engine.failpoints import hit
from engine.types.guess import guess_python_type
from serve.driver.event_writer import EventWriter
from serve.driver.node_inputs import NodeInputs
from serve.store.execution_records import (
    AttemptEvent,
    CacheSource,
    ExecutionStarted,
    NodeAttempt,
    NodeEvent,
)

log = logging.getLogger(__name__)

_FAILED = (NodePhase.FAILED, NodePhase.TIMED_OUT)
# Phases of a node that has not started: its inputs are not recorded yet.
_NOT_STARTED = (NodePhase.QUEUED, NodePhase.SKIPPED)
# Phases a node is given once its task is submitted to Ray.
_DISPATCHED = (NodePhase.QUEUED, NodePhase.RUNNING)


def output_types(compiled: CompiledWorkflow, node_id: str) -> dict[str, Any]:
    """The Python types of a node's outputs: its task's, or a gate's value's."""
    node = compiled.spec.node(node_id)
    if node.gate is not None:
        return {GATE_OUTPUT: guess_python_type(node.gate.type)} if node.gate.type else {}
    return dict(compiled.tasks[node.task].python_interface.outputs)


def _source(attempt: AttemptRecord) -> CacheSource | None:
    found = attempt.cache_source
    return CacheSource(found["run"], found["node_id"]) if found else None


class AdminHooks(ExecutionHooks):
    """Records phases, attempts, inputs and durable outputs of one execution's nodes.

    Args:
        prefix: blob store URI under which this execution's offloaded values go.
        attempts: attempts each node recorded before (a resuming driver numbers on).
        recovered: stored outputs of nodes the executor is given as RECOVERED.
        positions: each node's place in the workflow's order, for listings.
        inputs: the execution's inputs (input name -> JSON literal).
    """

    wants_outputs = True

    def __init__(self, writer: EventWriter, compiled: CompiledWorkflow, blobs: BlobStore,
                 prefix: str, threshold: int, attempts: dict[str, int],
                 recovered: dict[str, dict[str, Any]], positions: dict[str, int],
                 inputs: dict[str, Any]) -> None:
        self.writer = writer
        self.compiled = compiled
        self.blobs = blobs
        self.prefix = prefix
        self.threshold = threshold
        self.attempts = attempts
        self.recovered = recovered
        self.positions = positions
        # Stored outputs of the nodes that succeeded or were recovered are kept there:
        # a SUCCEEDED event carries them, and downstream nodes' inputs refer to them.
        self.node_inputs = NodeInputs(compiled.spec, inputs, blobs, prefix, threshold)
        self._with_inputs: set[str] = set()  # nodes whose inputs were recorded

    def on_execution_start(self, record: ExecutionRecord) -> None:
        # The run's name ties the catalog's producers of HITs to this execution.
        self.writer.put(ExecutionStarted(record.name))
        for node in record.nodes.values():
            self.writer.put(self._event(record, node))

    def on_node_outputs(self, record: ExecutionRecord, node: NodeRecord,
                        outputs: dict[str, Any]) -> None:
        types = output_types(self.compiled, node.node_id)
        where = f"{self.prefix}/nodes/{node.node_id}"
        self.node_inputs.add_outputs(node.node_id, {
            name: store_value(value, types[name], self.blobs, where, self.threshold)
            for name, value in outputs.items()})
        hit("driver.after_task_done")  # outputs durable, SUCCEEDED not recorded yet

    def on_node_phase(self, record: ExecutionRecord, node: NodeRecord) -> None:
        if node.phase in _DISPATCHED:
            hit("driver.after_dispatch")  # its task submitted, its phase not recorded
        self.writer.put(self._event(record, node))

    def on_attempt_start(self, record: ExecutionRecord, node: NodeRecord,
                         attempt: AttemptRecord) -> None:
        """A running attempt is recorded with its log's URI, so its log is found (and
        tailed) before it ends."""
        self.writer.put(AttemptEvent(node.node_id, NodeAttempt(
            self._number(node, attempt), attempt.start, None, None, None, None, None,
            dict(attempt.worker), None, attempt.log_uri)))

    def on_attempt_end(self, record: ExecutionRecord, node: NodeRecord,
                       attempt: AttemptRecord) -> None:
        self.writer.put(AttemptEvent(node.node_id, NodeAttempt(
            self._number(node, attempt), attempt.start, attempt.end,
            attempt.outcome, attempt.error_kind.value if attempt.error_kind else None,
            attempt.error, attempt.cache_status, dict(attempt.worker), attempt.deck_uri,
            attempt.log_uri, _source(attempt))))

    def _number(self, node: NodeRecord, attempt: AttemptRecord) -> int:
        """The attempt's number in the admin: after those of earlier driver incarnations."""
        return self.attempts.get(node.node_id, 0) + attempt.attempt

    def _event(self, record: ExecutionRecord, node: NodeRecord) -> NodeEvent:
        outputs = None
        if node.phase is NodePhase.SUCCEEDED:
            outputs = self.node_inputs.outputs.get(node.node_id)  # None: a branch
        elif node.phase is NodePhase.RECOVERED:
            outputs = self.recovered.get(node.node_id)  # None: a branch, no outputs
            if outputs is not None:
                self.node_inputs.add_outputs(node.node_id, outputs)
        last = node.attempts[-1] if node.attempts and node.phase in _FAILED else None
        return NodeEvent(
            node.node_id, node.task, self.positions.get(node.node_id, len(self.positions)),
            node.phase, last.error_kind.value if last and last.error_kind else None,
            last.error if last else None, node_rows(node.children) if node.children else None,
            node.child_execution, outputs, self._inputs(record, node))

    def _inputs(self, record: ExecutionRecord, node: NodeRecord) -> dict[str, Any] | None:
        """The node's inputs, the first time they are all known after it started."""
        if node.phase in _NOT_STARTED or node.node_id in self._with_inputs:
            return None
        try:
            inputs = self.node_inputs.of(node.node_id, record.nodes)
        except (FlyrayError, OSError, ValueError) as e:  # the blob store: inputs only inform
            log.warning("node %s: its inputs cannot be recorded: %s", node.node_id, e)
            self._with_inputs.add(node.node_id)  # not tried again
            return None
        if inputs is not None:
            self._with_inputs.add(node.node_id)
        return inputs
