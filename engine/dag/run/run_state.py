"""The state of one execution while it runs, apart from the driver loop that changes it.

Plain data with small named mutators: the driver (``engine.dag.run.executor``) and its
conditional steps (``engine.dag.run.branch_steps``) change it only through them, and
talk to Ray themselves.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ray

from engine.dag.run.run_graph import RunGraph
from engine.dag.run.state import AttemptRecord, ExecutionRecord, NodePhase, NodeRecord
from engine.dag.spec import START_NODE, OutputRef
from engine.errors import NodeFailedError

# The driver's way to move a node to a phase: RunState.set_phase, then the hooks are told.
SetPhase = Callable[[str, NodePhase], None]


@dataclass
class Submission:
    """One submitted attempt of a node and the ObjectRefs it will fill."""

    node_id: str
    status: ray.ObjectRef  # resolves to AttemptInfo's wire form, or raises the error
    outputs: dict[str, ray.ObjectRef]
    attempt: AttemptRecord


@dataclass
class RunState:
    """What changes while one execution runs.

    Invariants: a node is in at most one of ``unsubmitted``, ``current`` and ``aliases``;
    ``pending`` holds only current submissions.
    """

    # The workflow being run (fixed).
    graph: RunGraph
    # What happened so far: phases and attempts of every node; hooks and callers read it.
    record: ExecutionRecord
    # The workflow's input values (conditions read them): as given, then, once the run
    # starts, with local files uploaded.
    inputs: dict[str, Any]
    # Upstream nodes of each node that have no outputs yet: it may run at zero.
    unmet: dict[str, int]
    # Nodes not submitted yet, in topological order: waiting for an upstream node to be
    # submitted, inside an arm not decided yet, or branches not yet pointed at the
    # outputs of their taken arm.
    unsubmitted: list[str]
    # ObjectRefs of the workflow's inputs; set once the run starts.
    input_refs: dict[str, ray.ObjectRef] = field(default_factory=dict)
    # The latest submission of each submitted task node; downstream nodes read its outputs.
    current: dict[str, Submission] = field(default_factory=dict)
    # Submissions whose outcome the driver has not recorded yet, by their status ref.
    pending: dict[ray.ObjectRef, Submission] = field(default_factory=dict)
    # When each node last had all its upstream nodes succeed (monotonic clock): its
    # attempt's timeout counts from there.
    ready_since: dict[str, float] = field(default_factory=dict)
    # The arm each decided branch took (None: no arm holds).
    decided: dict[str, int | None] = field(default_factory=dict)
    # Outputs of nodes that are not submitted but have outputs anyway (output name ->
    # ObjectRef): decided branches (their taken arm's) and recovered nodes.
    aliases: dict[str, dict[str, ray.ObjectRef]] = field(default_factory=dict)
    # Nodes failed for good, under FAIL_AFTER_EXECUTABLE_NODES_COMPLETE; the run raises
    # the first once every other node has ended.
    failures: list[NodeFailedError] = field(default_factory=list)
    # Failed attempts of each node so far, by (node id, lost): attempts lost with their
    # worker draw on the system retry budget, the failures attempts report on the task's
    # retries (see engine.dag.run.outcomes.RetryBudget). Attempt numbers count both.
    failed: Counter[tuple[str, bool]] = field(default_factory=Counter)

    @classmethod
    def of(cls, graph: RunGraph, record: ExecutionRecord, inputs: dict[str, Any]) -> RunState:
        """The state of an execution of ``graph`` that has not started yet."""
        return cls(graph, record, inputs,
                   unmet={node_id: len(ups) for node_id, ups in graph.upstream.items()},
                   unsubmitted=list(graph.order))

    # --- queries ---------------------------------------------------------------------

    def ready(self, node_id: str) -> bool:
        """Whether every upstream node of ``node_id`` has its outputs."""
        return self.unmet[node_id] == 0

    def is_submitted(self, node_id: str) -> bool:
        """Whether downstream nodes can be wired to the outputs of ``node_id``."""
        return node_id in self.current or node_id in self.aliases

    def ref(self, binding: OutputRef) -> ray.ObjectRef:
        """The ObjectRef holding the value ``binding`` reads (a workflow input or an
        output of a submitted node)."""
        if binding.node_id == START_NODE:
            return self.input_refs[binding.var]
        return self.output_ref(binding.node_id, binding.var)

    def output_ref(self, node_id: str, var: str) -> ray.ObjectRef:
        if node_id in self.aliases:
            return self.aliases[node_id][var]
        return self.current[node_id].outputs[var]

    # --- mutators --------------------------------------------------------------------

    def set_inputs(self, values: dict[str, Any], refs: dict[str, ray.ObjectRef]) -> None:
        """Take the inputs the run starts with: their values and ObjectRefs."""
        self.inputs, self.input_refs = values, refs

    def set_phase(self, node_id: str, phase: NodePhase) -> bool:
        """Move ``node_id`` to ``phase``; False when it is there already, save QUEUED,
        which a resubmitted node enters again."""
        if self.record.nodes[node_id].phase is phase and phase is not NodePhase.QUEUED:
            return False
        if phase.has_outputs:  # phases never leave SUCCEEDED (or RECOVERED)
            for child in self.graph.children.get(node_id, ()):
                self.unmet[child] -= 1
        self.record.set_phase(node_id, phase)
        return True

    def note_ready(self, node_id: str) -> None:
        """Every upstream node of ``node_id`` has its outputs now: its attempt may run."""
        self.ready_since[node_id] = time.monotonic()

    def dequeue(self, node_id: str) -> None:
        """``node_id`` no longer waits to be submitted: it is submitted, aliased, failed
        or skipped."""
        if node_id in self.unsubmitted:
            self.unsubmitted.remove(node_id)

    def track(self, sub: Submission) -> None:
        """Make ``sub`` its node's current submission and wait for it; the submission it
        replaces (an upstream node is retried) is no longer waited for."""
        previous = self.current.get(sub.node_id)
        if previous is not None:
            self.pending.pop(previous.status, None)
        self.current[sub.node_id] = sub
        self.pending[sub.status] = sub

    def claim(self, sub: Submission) -> bool:
        """Stop waiting for the ended ``sub``; False when its outcome does not count (it
        was replaced by a later submission, or withdrawn)."""
        return self.current.get(sub.node_id) is sub and \
            self.pending.pop(sub.status, None) is not None

    def withdraw(self, node_id: str) -> Submission | None:
        """Stop waiting for the current submission of ``node_id`` (an upstream node
        failed for good) and forget its attempt; the submission, if one was pending."""
        sub = self.current.get(node_id)
        if sub is None or self.pending.pop(sub.status, None) is None:
            return None
        self.record.nodes[node_id].attempts.remove(sub.attempt)
        return sub

    def drain(self) -> list[Submission]:
        """Stop waiting for every submission (the execution stops); those that were
        pending."""
        subs = list(self.pending.values())
        self.pending.clear()
        return subs

    def drop_open_attempt(self, node_id: str) -> None:
        """Forget the last attempt of ``node_id`` if it has not ended: it never ran, or
        it is resubmitted."""
        attempts = self.record.nodes[node_id].attempts
        if attempts and attempts[-1].outcome is None:
            attempts.pop()

    def count_failure(self, node_id: str, lost: bool) -> int:
        """Count a failed attempt of ``node_id``; how many of its sort (``lost`` with its
        worker, or reported by the attempt) the node has had, this one included."""
        self.failed[node_id, lost] += 1
        return self.failed[node_id, lost]

    def add_node(self, node: NodeRecord) -> None:
        """Record a node that is not in the graph: the workflow's on_failure handler."""
        self.record.nodes[node.node_id] = node

    def decide(self, node_id: str, arm: int | None) -> None:
        """The branch ``node_id`` takes ``arm`` (None: no arm holds)."""
        self.decided[node_id] = arm
        self.record.nodes[node_id].arm = arm

    def alias(self, node_id: str, outputs: dict[str, ray.ObjectRef]) -> None:
        """The outputs of ``node_id``, which is not submitted, are ``outputs``."""
        self.aliases[node_id] = outputs

    def fail_later(self, failure: NodeFailedError) -> None:
        """A node failed for good; the run raises ``failure`` once the others ended."""
        self.failures.append(failure)
