"""Launching, terminating, relaunching and recovering executions: the admin's side.

The routers call this service; it stores the execution (the store resolves and checks
what runs) and hands the driver to start to the supervisor's thread, which hands it to an executor
through the :class:`~serve.control.launching.Launcher`: a request never waits for Ray, nor
the admin for a run. Terminating asks the driver to stop and waits a little for it to
confirm; a driver that does not answer is dropped and the execution is ended ABORTED
here.
"""

from __future__ import annotations

import logging
import threading
from collections import deque

from engine.config import Settings
from engine.failpoints import hit
from serve.control.launching import DriverTicket, Launcher, Liveness
from serve.errors import ExecutionsUnavailableError
from serve.store import AdminStore
from serve.store.execution_records import (
    ACTIVE_PHASES,
    Execution,
    ExecutionId,
    ExecutionRequest,
    LaunchTicket,
)

log = logging.getLogger(__name__)


class ExecutionService:
    """Executions over one store and launcher (None: this server runs no executions)."""

    def __init__(self, store: AdminStore, launcher: Launcher | None, settings: Settings,
                 liveness: Liveness) -> None:
        self.store = store
        self.launcher = launcher
        self.settings = settings
        self.liveness = liveness
        # Drivers to start, handed from request threads to the supervisor's thread.
        self._pending: deque[LaunchTicket] = deque()
        # Set when there is something for the supervisor to do now.
        self.wakeup = threading.Event()
        # Set by drain(): the cluster is about to stop; nothing more is launched here.
        self.draining = False
        # Held by the supervisor through each pass: drain() waits for the one under way.
        self.passing = threading.Lock()

    def create(self, request: ExecutionRequest) -> tuple[Execution, bool]:
        """Store the execution (QUEUED) and start its driver; returns it and whether it
        is new (an identical earlier request's execution is returned as it is)."""
        self._require_launcher()
        execution, created, tickets = self.store.create_execution(
            request, self.settings.blob_root_uri, self.liveness.max_starting_drivers)
        self.launch(tickets)
        hit("api.after_commit_before_response")  # stored and launching, no answer sent yet
        return execution, created

    def relaunch(self, source: ExecutionId, name: str | None,
                 overwrite_cache: bool | None) -> tuple[Execution, bool]:
        self._require_launcher()
        execution, created, tickets = self.store.relaunch_execution(
            source, name, overwrite_cache, self.liveness.max_starting_drivers)
        self.launch(tickets)
        return execution, created

    def recover(self, source: ExecutionId, name: str | None) -> tuple[Execution, bool]:
        self._require_launcher()
        execution, created, tickets = self.store.recover_execution(
            source, name, self.liveness.max_starting_drivers)
        self.launch(tickets)
        return execution, created

    def terminate(self, ident: ExecutionId, cause: str) -> Execution:
        """Stop the execution: ABORTED with ``cause``, its running Ray work cancelled."""
        execution, launch = self.store.terminate_execution(ident, cause)
        if launch == 0:
            return execution  # never started, or ABORTED already
        stopped = self.launcher is not None and self.launcher.stop(
            ident, launch, cause, self.liveness.terminate_wait_s)
        execution = self.store.get_execution(ident)
        if not stopped or execution.phase in ACTIVE_PHASES:
            log.warning("execution %s: its driver did not confirm the stop; ending it here",
                        ident)
            if self.launcher is not None:
                self.launcher.kill(ident, launch)
            execution = self.store.force_abort(ident)
        return execution

    def drain(self, timeout_s: float) -> int:
        """Before the cluster stops: launch nothing more from this admin, and hand back
        every execution the executors drive (each resumes, from its recorded nodes, on
        the next launch once an admin runs again); returns how many were handed back
        (none by an admin without a launcher: it runs no executions)."""
        self.draining = True
        with self.passing:  # a pass under way may relaunch; the next ones do nothing
            pass
        return 0 if self.launcher is None else self.launcher.drain(self.store.url, timeout_s)

    def launch(self, tickets: list[LaunchTicket]) -> None:
        """Hand drivers to start to the supervisor (see :meth:`start_drivers`), and wake
        it: an execution that could not launch yet gets its turn when a slot frees."""
        self._pending.extend(tickets)
        self.wakeup.set()

    def start_drivers(self) -> None:
        """Start the drivers handed over (the supervisor's thread). One that cannot be
        started is left to the supervisor, which finds it missing and launches it again
        (or fails the execution, explicitly)."""
        if self.launcher is None:
            self._pending.clear()
            return
        while self._pending and not self.draining:
            ticket = self._pending.popleft()
            try:
                self.launcher.launch(DriverTicket.of(ticket, self.store.url, self.settings,
                                                     self.liveness))
            except Exception:  # Ray's errors have no common base; the supervisor retries
                log.exception("execution %s: starting its driver failed", ticket.execution)

    def _require_launcher(self) -> None:
        if self.launcher is None:
            raise ExecutionsUnavailableError(
                "this admin server runs no executions: it was started without a launcher "
                "(run it on Ray Serve with serve.deployment, or pass create_app a launcher)")
