"""What the change feed of an execution returns (``serve.store.changes``): plain frozen data.

A reader keeps the ``seq`` of the last answer and asks again with it as ``since``: it
gets only the nodes and attempts written after, each in its state of now.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from engine.dag.run.state import ExecutionPhase, NodePhase, NodeRow
from serve.store.execution_records import TERMINAL_PHASES, ErrorInfo, ExecutionId, NodeAttempt

# A row's error in the feed: its first line, at most this long (the node's own read has
# the whole message).
MAX_ERROR = 300


@dataclass(frozen=True)
class NodeChange:
    """A node as it stands after its last write (``seq``)."""

    node_id: str
    task: str
    phase: NodePhase
    position: int
    error_kind: str | None
    error: str | None  # first line, at most MAX_ERROR characters
    child_execution: str | None
    # How many of the nodes a map, dynamic or launch plan node ran inside itself are in
    # each phase (phase name -> count); empty for other nodes.
    children: dict[str, int]
    seq: int


@dataclass(frozen=True)
class AttemptChange:
    """An attempt as it stands after its last write (``seq``); its error is the first
    line, at most MAX_ERROR characters."""

    node_id: str
    attempt: NodeAttempt
    seq: int


@dataclass(frozen=True)
class ExecutionChanges:
    """The execution now, and its nodes and attempts written after ``since``.

    Attributes:
        seq: pass as ``since`` to read on. Every write up to it is in this answer or an
            earlier one.
        more: the answer stopped at ``limit`` rows: ask again at once from ``seq``.
        nodes, attempts: ordered by seq; a row appears once, in its latest state.
    """

    execution: ExecutionId
    phase: ExecutionPhase
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    error: ErrorInfo | None
    seq: int
    more: bool
    nodes: tuple[NodeChange, ...] = field(default=())
    attempts: tuple[AttemptChange, ...] = field(default=())

    @property
    def terminal(self) -> bool:
        """The execution ended and this answer holds everything: nothing more will come."""
        return self.phase in TERMINAL_PHASES and not self.more


def phase_counts(children: list[NodeRow]) -> dict[str, int]:
    """How many of a node's children (its engine rows) are in each phase."""
    counts: dict[str, int] = {}
    for child in children:
        phase = child[3]  # a NodeRow: key, node_id, task, phase, attempts, ...
        counts[phase] = counts.get(phase, 0) + 1
    return counts


def headline(message: str | None) -> str | None:
    """What a row shows of an error: its first line, or for a Python traceback the line
    naming the exception (its last unindented one), at most MAX_ERROR characters."""
    if message is None:
        return None
    lines = [line for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    line = lines[0]
    if line.startswith("Traceback (most recent call last)"):
        line = next((x for x in reversed(lines) if not x[:1].isspace()), line)
    return line[:MAX_ERROR]
