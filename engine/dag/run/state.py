"""Run state of one execution: plain records, changed only through small named mutators."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from engine.errors import ErrorKind


class NodePhase(str, Enum):
    QUEUED = "QUEUED"  # submitted; waiting for upstream nodes or for a worker
    RUNNING = "RUNNING"  # every upstream node succeeded; the attempt may be running
    # A gate node (sleep, wait_for_input, approve) waiting, in the driver, for its time
    # to pass or its signal to arrive; it holds no worker.
    WAITING = "WAITING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"  # the last attempt ran past the task's timeout
    ABORTED = "ABORTED"  # cancelled because the execution stopped
    SKIPPED = "SKIPPED"  # never ran because an upstream node failed
    # Not run: its outputs were taken from an earlier execution (recovery, or a remote
    # execution's driver resuming after a restart).
    RECOVERED = "RECOVERED"

    @property
    def terminal(self) -> bool:
        return self not in (NodePhase.QUEUED, NodePhase.RUNNING, NodePhase.WAITING)

    @property
    def has_outputs(self) -> bool:
        """Whether a node in this phase has its outputs (downstream nodes may run)."""
        return self is NodePhase.SUCCEEDED or self is NodePhase.RECOVERED


class ExecutionPhase(str, Enum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    ABORTED = "ABORTED"
    TIMED_OUT = "TIMED_OUT"


@dataclass
class AttemptRecord:
    """One try of a node."""

    # 1 for the first attempt, 2 for the first retry, ...
    attempt: int
    # Wall-clock bounds in epoch seconds: the worker's own clock when the attempt
    # reached user code, else the driver's submit and observe times.
    start: float
    end: float | None = None
    # SUCCEEDED, FAILED or TIMED_OUT once the attempt is over.
    outcome: NodePhase | None = None
    error_kind: ErrorKind | None = None
    error: str | None = None
    # Data catalog: DISABLED, HIT, MISS (computed and stored), OVERWRITTEN or FAILED.
    cache_status: str | None = None
    # Where it ran: Ray node IP and id, worker pid, GPU ids Ray assigned.
    worker: dict[str, Any] = field(default_factory=dict)
    # Its deck document in the blob store (tasks with enable_deck; successful attempts).
    deck_uri: str | None = None
    # Its log in the blob store (engine.logs: a folder of chunks, written while it runs);
    # set by the driver when the attempt starts, for attempts that run a task.
    log_uri: str | None = None
    # A HIT's producer, as the catalog recorded it: {"run": <ExecutionRecord.name of the
    # run that computed the outputs>, "node_id": <its node>}; None for any other status.
    cache_source: dict[str, str] | None = None


@dataclass
class NodeRecord:
    """What happened to one node."""

    node_id: str
    task: str
    phase: NodePhase = NodePhase.QUEUED
    attempts: list[AttemptRecord] = field(default_factory=list)
    # What the node ran inside itself in its last attempt: the nodes of a @dynamic's
    # sub-DAG or of a launch plan's child execution, or a map task's elements ("0", "1",
    # ...), each with its own phase and attempts.
    children: dict[str, NodeRecord] = field(default_factory=dict)
    # The execution a launch plan or @dynamic node started for its children.
    child_execution: str | None = None
    # A branch node's (a conditional's) arm, by index, once it decided (None: not yet, or
    # no arm holds).
    arm: int | None = None

    @property
    def error(self) -> str | None:
        return self.attempts[-1].error if self.attempts else None

    @property
    def cache_status(self) -> str | None:
        return self.attempts[-1].cache_status if self.attempts else None

    @property
    def deck_uri(self) -> str | None:
        """The deck document of the last attempt, if it wrote one."""
        return self.attempts[-1].deck_uri if self.attempts else None


@dataclass
class ExecutionRecord:
    """What happened to one execution of a workflow."""

    name: str
    workflow: str
    nodes: dict[str, NodeRecord]
    phase: ExecutionPhase = ExecutionPhase.QUEUED
    started_at: float = field(default_factory=time.time)
    ended_at: float | None = None
    error: str | None = None
    error_kind: ErrorKind | None = None
    # "<execution>/<node>" of the node that started this execution, for child executions.
    parent: str | None = None

    def start(self) -> None:
        self.phase = ExecutionPhase.RUNNING
        self.started_at = time.time()

    def finish(self, phase: ExecutionPhase, error: str | None = None,
               kind: ErrorKind | None = None) -> None:
        self.phase = phase
        self.ended_at = time.time()
        self.error = error
        self.error_kind = kind

    def begin_attempt(self, node_id: str, submitted_at: float) -> AttemptRecord:
        node = self.nodes[node_id]
        attempt = AttemptRecord(attempt=len(node.attempts) + 1, start=submitted_at)
        node.attempts.append(attempt)
        return attempt

    def set_phase(self, node_id: str, phase: NodePhase) -> None:
        self.nodes[node_id].phase = phase


# --- compact rows: how records cross process boundaries ---------------------------
# A map node reports thousands of element records; as nested lists of plain values
# Ray packs them without pickling each object, which costs ten times less.

AttemptRow = list[Any]  # attempt, start, end, outcome, error_kind, error, cache, worker
NodeRow = list[Any]  # key, node_id, task, phase, [AttemptRow], child_execution, [NodeRow]


def attempt_row(a: AttemptRecord) -> AttemptRow:
    return [a.attempt, a.start, a.end, a.outcome.value if a.outcome else None,
            a.error_kind.value if a.error_kind else None, a.error, a.cache_status, a.worker]


def attempt_from_row(row: AttemptRow) -> AttemptRecord:
    attempt, start, end, outcome, kind, error, cache, worker = row
    return AttemptRecord(attempt, start, end, NodePhase(outcome) if outcome else None,
                         ErrorKind(kind) if kind else None, error, cache, worker)


def node_rows(nodes: dict[str, NodeRecord]) -> list[NodeRow]:
    return [[key, n.node_id, n.task, n.phase.value, [attempt_row(a) for a in n.attempts],
             n.child_execution, node_rows(n.children)] for key, n in nodes.items()]


def nodes_from_rows(rows: list[NodeRow]) -> dict[str, NodeRecord]:
    nodes = {}
    for key, node_id, task, phase, attempts, child_execution, children in rows:
        nodes[key] = NodeRecord(node_id, task, NodePhase(phase),
                                [attempt_from_row(a) for a in attempts],
                                nodes_from_rows(children), child_execution)
    return nodes
