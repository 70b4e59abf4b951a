"""An executor: a long-lived, detached Ray actor that drives many executions at once,
FlytePropeller-style, each in a thread of its own (:class:`serve.driver.driving.DriverRun`).

The launcher (``serve.control.launcher``) names executors by their
:class:`~serve.control.launching.ExecutorKey` and a slot, and hands them drivers with
:meth:`Executor.drive`; one refuses a driver when it is full or ending, and the launcher
tries the next slot. The executions an executor drives share its process (the engine
is imported once, their code bundle loaded once) and its Ray runtime environment, so
their tasks reuse the same warm Ray workers.

The SQL records stay the source of truth: each driver claims its execution (fencing
out any older one) and resumes it from its recorded nodes. An executor that dies takes
its drivers with it; the supervisor finds them gone and launches them again, on another
executor. Every ``heartbeat_s`` an executor reports itself in the admin database (what
``GET /api/v1/executors`` lists); one beyond the warm pool that drove nothing for
``idle_s`` ends itself.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from enum import Enum

import ray

from serve.control.launching import DriverTicket, ExecutorKey
from serve.driver.driving import DriverRun
from serve.errors import StoreError
from serve.store import AdminStore
from serve.store.execution_records import ExecutionId
from serve.store.executor_records import ExecutorBeat

log = logging.getLogger(__name__)

Launch = tuple[ExecutionId, int]
# How long an ending executor lets calls in flight (drain's answer) return first.
_EXIT_WAIT_S = 0.5


class Handoff(str, Enum):
    """An executor's answer to :meth:`Executor.drive`."""

    ACCEPTED = "accepted"  # driving it (or already was)
    FULL = "full"  # at capacity: try another executor
    ENDING = "ending"  # draining or idle-ending: try another executor


@dataclass(frozen=True)
class ExecutorSpec:
    """What an executor is started with (plain data, pickled to the actor).

    Attributes:
        name: its actor's name (namespace ``flyray``).
        warm: kept while idle (the supervisor's warm pool) instead of ending.
        capacity: executions it drives at once.
        idle_s: with nothing to drive for this long (and not warm), it ends.
        heartbeat_s: how often it reports itself in the admin database.
    """

    name: str
    key: ExecutorKey
    warm: bool
    capacity: int
    idle_s: float
    heartbeat_s: float


# Threaded: drive/stop/drain calls are answered while the executions run in their own
# threads. Not restarted by Ray: a lost executor's drivers are relaunched elsewhere.
@ray.remote(num_cpus=0, max_restarts=0, max_task_retries=0)
class Executor:
    """Drives the executions handed to it; see the module's documentation."""

    def __init__(self, spec: ExecutorSpec) -> None:
        self.spec = spec
        self._store = AdminStore(spec.key.admin_db_url)
        self._runs: dict[Launch, DriverRun] = {}
        self._cond = threading.Condition()
        self._ending = False
        self._idle_since = time.monotonic()
        self._completed = 0
        self._node_ip = ray.util.get_node_ip_address()
        threading.Thread(target=self._housekeeping, name="flyray-executor", daemon=True).start()

    def drive(self, ticket: DriverTicket) -> Handoff:
        """Start driving ``ticket``'s execution (idempotent), unless full or ending."""
        launch = (ticket.execution, ticket.launch)
        with self._cond:
            if launch in self._runs:
                return Handoff.ACCEPTED
            if self._ending:
                return Handoff.ENDING
            if len(self._runs) >= self.spec.capacity:
                return Handoff.FULL
            run = self._runs[launch] = DriverRun(ticket)
        threading.Thread(target=self._drive, args=(launch, run), daemon=True,
                         name=f"flyray-driver:{ticket.execution}").start()
        return Handoff.ACCEPTED

    def driving(self) -> list[Launch]:
        """The launches this executor drives now."""
        with self._cond:
            return list(self._runs)

    def stop(self, execution: ExecutionId, launch: int, cause: str, timeout_s: float) -> bool:
        """Stop the execution with ``cause`` (it ends ABORTED); True once its driver is
        done, False when this executor does not drive it or it did not stop in time."""
        key = (execution, launch)
        with self._cond:
            run = self._runs.get(key)
            if run is None:
                return False
            run.request_stop(cause)
            return self._cond.wait_for(lambda: key not in self._runs, timeout_s)

    def forget(self, execution: ExecutionId, launch: int) -> None:
        """Stop driving the execution; a later launch replaces this one (it is fenced out
        of the database at its next write, whatever it was doing)."""
        with self._cond:
            run = self._runs.get((execution, launch))
        if run is not None:
            run.request_stop("its driver was replaced by a later launch")

    def drain(self, admin_db_url: str, timeout_s: float) -> int | None:
        """Hand back every execution (each resumes on a later launch) and end; None when
        this executor records elsewhere than ``admin_db_url`` (it is not drained)."""
        if admin_db_url != self.spec.key.admin_db_url:
            return None
        with self._cond:
            self._ending = True
            runs = list(self._runs.values())
        for run in runs:
            run.request_release()
        with self._cond:
            self._cond.wait_for(lambda: not self._runs, timeout_s)
        threading.Thread(target=self._end, daemon=True).start()
        return len(runs)

    def _drive(self, launch: Launch, run: DriverRun) -> None:
        try:
            run.main(self._store)
        except BaseException:
            log.exception("execution %s: its driver failed", launch[0])
        finally:
            with self._cond:
                del self._runs[launch]
                self._completed += 1
                if not self._runs:
                    self._idle_since = time.monotonic()
                self._cond.notify_all()

    def _housekeeping(self) -> None:
        """Report this executor every heartbeat; end it once idle for long enough."""
        spec = self.spec
        while True:
            self._report()
            time.sleep(spec.heartbeat_s)
            with self._cond:
                if self._ending:
                    return  # drain() ends it
                idle = not self._runs and time.monotonic() - self._idle_since >= spec.idle_s
                if idle and not spec.warm:
                    self._ending = True
            if idle and not spec.warm:
                log.info("executor %s: idle for %g s; ending", spec.name, spec.idle_s)
                self._end()
                return

    def _report(self) -> None:
        spec, key = self.spec, self.spec.key
        with self._cond:
            in_flight, completed = len(self._runs), self._completed
        try:
            self._store.report_executor(ExecutorBeat(
                spec.name, key.project, key.domain, key.code_uri, spec.warm, self._node_ip,
                os.getpid(), in_flight, completed))
        except StoreError as e:  # the database is down: the next beat tries again
            log.warning("executor %s: cannot report itself: %s", spec.name, e)

    def _end(self) -> None:
        time.sleep(_EXIT_WAIT_S)
        try:
            self._store.remove_executor(self.spec.name)
        except StoreError as e:  # the supervisor forgets it once its reports stop
            log.warning("executor %s: cannot remove its report: %s", self.spec.name, e)
        self._store.close()
        ray.kill(ray.get_runtime_context().current_actor, no_restart=True)
