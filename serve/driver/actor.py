"""The driver of a remote execution as a detached Ray actor: a few lines around
:class:`serve.driver.driving.DriverRun`.

One actor per launch of an execution, named from the execution (see
``serve.control.launcher.actor_name``) in the namespace ``flyray``, detached (it outlives the
admin replica that started it) and restartable (a restarted actor claims the execution
again and resumes it). Its methods are idempotent: a Ray actor call may raise although
it ran. When the run is over the actor ends itself.
"""

from __future__ import annotations

import logging
import threading
import time

import ray

from serve.control.launching import DriverTicket
from serve.driver.driving import DriverRun

log = logging.getLogger(__name__)

# How long a finished driver waits for stop() calls in flight to return before it ends.
_EXIT_WAIT_S = 5.0


# Threaded (max_concurrency, set at launch): stop() runs while the execution does.
@ray.remote(num_cpus=0, max_restarts=2, max_task_retries=0)
class ExecutionDriver:
    """Runs one execution in a thread; ``stop`` asks it to end ABORTED."""

    def __init__(self, ticket: DriverTicket) -> None:
        self._run = DriverRun(ticket)
        self._calls = 0
        self._lock = threading.Lock()
        self._done = threading.Event()  # the run is over (recorded, or given up)
        self._thread = threading.Thread(target=self._main, name="flyray-driver", daemon=True)
        self._thread.start()

    def stop(self, cause: str, timeout_s: float) -> bool:
        """Stop the execution with ``cause``; True once the run is over."""
        with self._lock:
            self._calls += 1
        try:
            self._run.request_stop(cause)
            return self._done.wait(timeout_s)
        finally:
            with self._lock:
                self._calls -= 1

    def running(self) -> bool:
        return not self._done.is_set()

    def _main(self) -> None:
        try:
            self._run.main()
        except BaseException:
            log.exception("execution %s: its driver failed", self._run.ticket.execution)
        finally:
            self._done.set()
            deadline = time.monotonic() + _EXIT_WAIT_S
            while self._calls and time.monotonic() < deadline:
                time.sleep(0.05)
            ray.kill(ray.get_runtime_context().current_actor, no_restart=True)
