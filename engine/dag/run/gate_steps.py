"""How the execution driver runs gate nodes (``sleep``, ``wait_for_input``, ``approve``).

A gate holds no Ray worker and no CPU: it stays with the driver, in ``unsubmitted``,
until it resolves. Once every node before it has its outputs it starts waiting (phase
WAITING; its one attempt starts then); :meth:`GateSteps.poll`, called by the driver
loop while it waits for Ray, ends the waits that are due: a sleep when its duration has
passed, a signal gate when its :class:`SignalSource` has the signal, any gate when its
timeout passes. :meth:`GateSteps.step` then gives the gate its outputs (the signal's
value; approve's upstream value, untouched) and makes it SUCCEEDED, or fails it.

A gate that passed reports its outputs like a task node (none for a sleep), so a
remote driver stores them with its success and one resuming the execution takes the
gate (:mod:`engine.dag.recovery`) instead of waiting again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import ray

from engine.dag.run.run_state import RunState, SetPhase
from engine.dag.run.state import AttemptRecord, NodePhase
from engine.dag.spec import APPROVE_INPUT, GATE_OUTPUT, GateKind, GateSpec, OutputRef
from engine.errors import ErrorKind, NodeFailedError

# The driver's way to tell the hooks an attempt ended, and a node's outputs (ObjectRefs,
# fetched only where a hook stores them).
AttemptEnd = Callable[[str, AttemptRecord], None]
ReportOutputs = Callable[[str, dict[str, ray.ObjectRef]], None]


@dataclass(frozen=True)
class Signal:
    """What a signal source has for a gate: the signal's value, as the Python type the
    gate's type reads as (``guess_python_type``), or why no value can come."""

    value: Any = None
    failure: str | None = None  # set: the gate fails with it (a USER error)


class SignalSource(Protocol):
    """Where the signals of one execution's gates come from: the terminal in a local run
    (:mod:`engine.dag.run.gate_prompt`), the admin database in a remote one."""

    def begin(self, node_id: str, gate: GateSpec, now: float) -> float:
        """The gate of ``node_id`` starts waiting at ``now`` (epoch seconds); returns when
        its wait started, which is earlier when an earlier driver of the execution
        recorded it (the gate's duration and timeout count from there)."""
        ...

    def poll(self, node_id: str, gate: GateSpec) -> Signal | None:
        """The gate's signal once it is there (None: not yet); only for gates that take
        one. Cheap enough to be called every few tenths of a second."""
        ...

    def end(self, node_id: str, gate: GateSpec) -> None:
        """The gate stopped waiting (resolved, timed out, or the run stopped)."""
        ...


@dataclass
class _Wait:
    """A gate waiting: since when (epoch seconds) and what ended it (None: not yet)."""

    since: float
    attempt: AttemptRecord
    outcome: Signal | None = None
    timed_out: bool = False


class GateSteps:
    """The gates of one execution, on its run state."""

    def __init__(self, state: RunState, set_phase: SetPhase, attempt_end: AttemptEnd,
                 report: ReportOutputs, source: SignalSource) -> None:
        self.state = state
        self.set_phase = set_phase
        self.attempt_end = attempt_end
        # Given a gate's outputs before it is SUCCEEDED (a remote driver stores them).
        self.report = report
        self.source = source
        self._waits: dict[str, _Wait] = {}  # gates that started waiting and did not end

    def waiting(self) -> bool:
        """Whether a gate is waiting (the driver loop must go on for it)."""
        return any(w.outcome is None and not w.timed_out for w in self._waits.values())

    def step(self, node_id: str) -> bool:
        """Start the gate once the nodes before it have their outputs; finish it once
        :meth:`poll` ended its wait. Whether anything changed.

        Raises:
            NodeFailedError: the gate timed out, was rejected, or cannot get its signal.
        """
        wait = self._waits.get(node_id)
        if wait is None:
            if not self.state.ready(node_id):
                return False
            self._start(node_id)
            return True
        if wait.outcome is None and not wait.timed_out:
            return False
        self._finish(node_id, wait)
        return True

    def poll(self) -> bool:
        """End the waits that are due; whether any ended."""
        now = time.time()
        ended = False
        for node_id, wait in self._waits.items():
            if wait.outcome is not None or wait.timed_out:
                continue
            gate = self._gate(node_id)
            if gate.kind is GateKind.SLEEP:
                assert gate.duration_s is not None  # GateSpec's invariant
                if now - wait.since >= gate.duration_s:
                    wait.outcome = Signal(True)
            else:
                wait.outcome = self.source.poll(node_id, gate)
                assert gate.timeout_s is not None  # GateSpec's invariant
                if wait.outcome is None and now - wait.since >= gate.timeout_s:
                    wait.timed_out = True
            if wait.outcome is not None or wait.timed_out:
                self.source.end(node_id, gate)
                ended = True
        return ended

    def due_in(self, default: float) -> float:
        """How long the driver may wait for Ray before :meth:`poll` has work: ``default``
        when no gate waits; at most a fifth of a second while a signal is awaited."""
        due = [default]
        now = time.time()
        for node_id, wait in self._waits.items():
            if wait.outcome is not None or wait.timed_out:
                continue
            gate = self._gate(node_id)
            if gate.kind is GateKind.SLEEP:
                assert gate.duration_s is not None
                due.append(wait.since + gate.duration_s - now)
            else:
                due.append(0.2)
        return max(0.0, min(due))

    def close(self) -> None:
        """The run stops: every gate still waiting stops waiting."""
        for node_id, wait in self._waits.items():
            if wait.outcome is None and not wait.timed_out:
                self.source.end(node_id, self._gate(node_id))

    def _start(self, node_id: str) -> None:
        gate = self._gate(node_id)
        since = self.source.begin(node_id, gate, time.time())
        attempt = self.state.record.begin_attempt(node_id, since)
        self._waits[node_id] = _Wait(since, attempt)
        self.set_phase(node_id, NodePhase.WAITING)

    def _finish(self, node_id: str, wait: _Wait) -> None:
        """Give the gate its outputs and make it SUCCEEDED, or fail it."""
        del self._waits[node_id]
        gate = self._gate(node_id)
        attempt = wait.attempt
        attempt.end = time.time()
        failure = self._failure(gate, wait)
        self.state.dequeue(node_id)
        if failure is not None:
            attempt.outcome = NodePhase.TIMED_OUT if wait.timed_out else NodePhase.FAILED
            attempt.error_kind, attempt.error = ErrorKind.USER, failure
            self.attempt_end(node_id, attempt)
            self.set_phase(node_id, attempt.outcome)
            raise NodeFailedError(self.state.graph.name, node_id, gate.label, 1,
                                  ErrorKind.USER, failure)
        outputs = self._outputs(node_id, gate, wait)
        self.state.alias(node_id, outputs)
        self.report(node_id, outputs)
        attempt.outcome = NodePhase.SUCCEEDED
        self.attempt_end(node_id, attempt)
        self.set_phase(node_id, NodePhase.SUCCEEDED)

    @staticmethod
    def _failure(gate: GateSpec, wait: _Wait) -> str | None:
        """Why the gate fails, or None when it passes."""
        if wait.timed_out:
            return (f"{gate.label} got no signal within its timeout of {gate.timeout_s:g} s; "
                    f"send it in time with `flyray signal set EXECUTION {gate.name} VALUE`, "
                    "or give the gate a longer timeout")
        assert wait.outcome is not None
        if wait.outcome.failure is not None:
            return wait.outcome.failure
        if gate.kind is GateKind.APPROVE and wait.outcome.value is not True:
            return f"{gate.label} was rejected (its signal is false)"
        return None

    def _outputs(self, node_id: str, gate: GateSpec, wait: _Wait) -> dict[str, Any]:
        """The gate's outputs as ObjectRefs: the signal's value (put in the object store
        by the driver: it is small), or approve's upstream value as it is."""
        if gate.type is None:
            return {}
        if gate.kind is GateKind.APPROVE:
            upstream = dict(self.state.graph.nodes[node_id].inputs)[APPROVE_INPUT]
            assert isinstance(upstream, OutputRef)  # the gate's validation
            return {GATE_OUTPUT: self.state.ref(upstream)}
        assert wait.outcome is not None
        return {GATE_OUTPUT: ray.put(wait.outcome.value)}

    def _gate(self, node_id: str) -> GateSpec:
        gate = self.state.graph.nodes[node_id].gate
        assert gate is not None, f"node '{node_id}' is not a gate"
        return gate
