"""The signal source of a remote execution's driver: its gates' signals and waits, in the
admin database (``serve.store.signals``).

A gate's wait is recorded when it starts, so that a driver resuming the execution after
a restart counts the gate's duration and timeout from the first start; a signal set
before the restart is found at once. Waiting holds no CPU and no Ray worker: the
driver asks the database for a waiting gate's signal at most every ``POLL_S``.
"""

from __future__ import annotations

import logging
import time

from engine.dag.run.gate_steps import Signal
from engine.dag.spec import GateSpec
from engine.errors import FlyrayError
from engine.types.guess import guess_python_type
from engine.types.type_engine import TypeEngine
from serve.errors import StoreError
from serve.store import AdminStore
from serve.store.execution_records import ExecutionId

log = logging.getLogger(__name__)

# How often a waiting gate's signal is looked for in the database.
POLL_S = 0.5


class StoreSignals:
    """The :class:`~engine.dag.run.gate_steps.SignalSource` of one remote execution."""

    def __init__(self, store: AdminStore, execution: ExecutionId) -> None:
        self.store = store
        self.execution = execution
        self._asked: dict[str, float] = {}  # node id -> when its signal was last asked for

    def begin(self, node_id: str, gate: GateSpec, now: float) -> float:
        try:
            return now - self.store.begin_wait(self.execution, node_id)
        except StoreError as e:  # the wait counts from now; the gate still works
            log.warning("execution %s: cannot record the wait of gate %s: %s",
                        self.execution, node_id, e)
            return now

    def poll(self, node_id: str, gate: GateSpec) -> Signal | None:
        now = time.monotonic()
        if now - self._asked.get(node_id, -POLL_S) < POLL_S:
            return None
        self._asked[node_id] = now
        try:
            found, value = self.store.signal_value(self.execution, node_id)
        except StoreError as e:  # the database is down: ask again at the next poll
            log.warning("execution %s: cannot read the signal of gate %s: %s",
                        self.execution, node_id, e)
            return None
        if not found:
            return None
        assert gate.signal_type is not None  # polled only for gates that take a signal
        try:  # the API checked the value against the gate's type
            return Signal(TypeEngine.from_json(value, guess_python_type(gate.signal_type)))
        except (TypeError, ValueError, FlyrayError) as e:
            return Signal(failure=f"{gate.label}: its signal {value!r} cannot be read as "
                                  f"{gate.signal_type}: {e}")

    def end(self, node_id: str, gate: GateSpec) -> None:
        self._asked.pop(node_id, None)
