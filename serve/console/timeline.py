"""The execution timeline: one bar per attempt, computed on the server.

Offsets and durations are seconds from the execution's start; a bar still open (its
attempt runs) ends at the server's now, or at the execution's end when the execution
ended without it (the bar is then ABORTED), so no bar is ever unbounded and the browser
never does clock arithmetic with its own clock (FlyteConsole's timeline gaps and crashes,
flyte#3698).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.dag.run.state import NodePhase
from serve.store.execution_views import AttemptTimes


@dataclass(frozen=True)
class Bar:
    node_id: str
    attempt: int
    phase: str  # the attempt's outcome, RUNNING while open, ABORTED if cut by the end
    offset: float
    duration: float


@dataclass(frozen=True)
class Timeline:
    """Bars from ``origin`` (epoch seconds) over ``span`` seconds, as of ``now``."""

    origin: float
    now: float
    span: float
    bars: tuple[Bar, ...]

    def to_json(self) -> dict[str, Any]:
        return {"origin": self.origin, "now": self.now, "span": round(self.span, 3),
                "bars": [[b.node_id, b.attempt, b.phase, round(b.offset, 3),
                          round(b.duration, 3)] for b in self.bars]}


def timeline(attempts: Sequence[AttemptTimes], started_at: float | None,
             ended_at: float | None, now: float) -> Timeline:
    """The bars of ``attempts`` for an execution that started at ``started_at`` (None:
    its first attempt's start) and ended at ``ended_at`` (None: it runs).

    Attempt times come from the workers' clocks, the execution's from the database's:
    the origin is the earlier of the two, so a worker clock running behind still draws
    its bars whole rather than clamped to nothing."""
    first = min((a.start for a in attempts), default=None)
    origin = min(t for t in (started_at, first, now) if t is not None)
    stop = ended_at if ended_at is not None else now
    bars = []
    for a in attempts:
        if a.end is not None:
            end, phase = a.end, (a.outcome or NodePhase.SUCCEEDED).value
        else:
            end = max(stop, a.start)
            phase = (NodePhase.RUNNING if ended_at is None else NodePhase.ABORTED).value
        offset = max(a.start - origin, 0.0)
        bars.append(Bar(a.node_id, a.attempt, phase, offset, max(end - origin - offset, 0.0)))
    span = max([stop - origin, *(b.offset + b.duration for b in bars), 0.001])
    return Timeline(origin, now, span, tuple(bars))
