"""The driver's link to the admin database: events written in batches, and heartbeats.

A thread of the driver takes what the execution's hooks queued and writes it in one
transaction; with nothing to write it sends a heartbeat every ``heartbeat_s``. Both
bring back the abort cause of a terminate request, and both learn when this driver
was superseded (fencing): either way the driver is told to stop. The driver loop
itself never waits for the database.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from serve.errors import DriverFencedError, StoreError
from serve.store import AdminStore
from serve.store.execution_records import Event, ExecutionId

log = logging.getLogger(__name__)

# Seconds between tries while the database cannot be written, at most.
_MAX_BACKOFF_S = 5.0
# Tries of the last batch when closing while the database is unavailable.
_CLOSING_TRIES = 10


class EventWriter:
    """Queue events with :meth:`put`; :meth:`close` writes what is left and stops."""

    def __init__(self, store: AdminStore, execution: ExecutionId, incarnation: int,
                 heartbeat_s: float, on_stop: Callable[[str], None]) -> None:
        self.store = store
        self.execution = execution
        self.incarnation = incarnation
        self.heartbeat_s = heartbeat_s
        self.on_stop = on_stop
        # Set once the database refused this driver: why (nothing more is written).
        self.fenced: str | None = None
        self._queue: list[Event] = []
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name="flyray-events", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def put(self, event: Event) -> None:
        with self._cond:
            self._queue.append(event)
            self._cond.notify()

    def close(self, timeout_s: float = 60.0) -> bool:
        """Write every queued event (unless fenced), then stop the thread; True when all
        were written. False when fenced, when the database refused them until the writer
        gave up, or when it is still trying after ``timeout_s``: the execution's end must
        not be recorded then, or it would close nodes whose events are missing."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout_s)
        with self._cond:
            return not self._thread.is_alive() and not self._queue and self.fenced is None

    def _loop(self) -> None:
        last_beat = time.monotonic()
        backoff, failures = 0.05, 0
        while True:
            with self._cond:
                wait = max(0.0, last_beat + self.heartbeat_s - time.monotonic())
                self._cond.wait_for(lambda: self._queue or self._closed, timeout=wait)
                batch, self._queue = self._queue, []
                closing = self._closed
            if self.fenced is not None:
                return
            if not batch and not closing and time.monotonic() - last_beat < self.heartbeat_s:
                continue
            try:
                cause = (self.store.record_events(self.execution, self.incarnation, batch)
                         if batch else self.store.heartbeat(self.execution, self.incarnation))
            except DriverFencedError as e:
                self.fenced = str(e)
                self.on_stop(f"this driver may not write any more: {e}")
                return
            except StoreError as e:
                failures += 1
                log.warning("execution %s: cannot write to the admin database (%s); will "
                            "retry", self.execution, e)
                with self._cond:
                    self._queue[:0] = batch  # kept, in order, for the next try
                if closing and failures >= _CLOSING_TRIES:
                    log.error("execution %s: giving up on %d event(s)", self.execution,
                              len(self._queue))
                    return
                time.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)
                continue
            backoff, failures = 0.05, 0
            last_beat = time.monotonic()
            if cause is not None:
                self.on_stop(cause)
            if closing:
                with self._cond:
                    if not self._queue:
                        return
