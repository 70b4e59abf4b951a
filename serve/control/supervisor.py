"""The admin's background loop: starts the drivers of new executions and of those
waiting for a start slot or a launch plan slot, keeps the warm executors, and finds
drivers that are lost (their executor gone, heartbeat stale, never started) and
restarts them (they resume: nodes that succeeded are not run again) or, past the
restart budget, fails the execution with a SYSTEM error. No execution stays RUNNING
forever. A draining admin (the cluster is stopping) launches nothing.

Several admin replicas may run it at once: every change is a conditional update on
the execution's launch number, so a lost driver is replaced once."""

from __future__ import annotations

import logging
import threading
import time

from serve.control.executions import ExecutionService
from serve.control.launching import ExecutorKey, Liveness
from serve.store.execution_records import DriverLease

log = logging.getLogger(__name__)


class Supervisor:
    """A daemon thread: starts drivers as soon as the service hands them over (it wakes
    the thread), looks for a start slot every ``liveness.dispatch_every_s`` while
    executions wait for one, and runs :meth:`tick` every ``liveness.supervise_every_s``."""

    def __init__(self, service: ExecutionService) -> None:
        self.service = service
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def liveness(self) -> Liveness:
        return self.service.liveness

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="flyray-supervisor",
                                        daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        wakeup, next_tick = self.service.wakeup, 0.0
        while not self._stop.is_set():
            wakeup.clear()
            waiting = False
            with self.service.passing:
                draining = self.service.draining  # the cluster is stopping: launch nothing
                if not draining:
                    try:
                        self.service.start_drivers()
                        waiting = self.dispatch()
                        if time.monotonic() >= next_tick:
                            next_tick = time.monotonic() + self.liveness.supervise_every_s
                            self.tick()
                    except Exception:  # a failed pass (database or Ray down): tried later
                        log.exception("execution supervisor: this pass failed")
            if draining:
                wakeup.wait(self.liveness.supervise_every_s)
                continue
            pause = (self.liveness.dispatch_every_s if waiting
                     else max(0.0, next_tick - time.monotonic()))
            wakeup.wait(pause)

    def stop(self) -> None:
        self._stop.set()
        self.service.wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def dispatch(self) -> bool:
        """Start the waiting executions that may start now; True while some still wait."""
        store = self.service.store
        tickets = store.dispatch_waiting(self.liveness.max_starting_drivers)
        if tickets:  # launch() wakes this thread: for nothing, its loop would never sleep
            self.service.launch(tickets)
        self.service.start_drivers()
        return store.executions_waiting()

    def tick(self) -> None:
        """One pass: keep the warm executors, forget the reports of executors that
        stopped reporting, and replace lost drivers."""
        store, launcher, settings = self.service.store, self.service.launcher, \
            self.service.settings
        if launcher is None:
            return
        launcher.keep_warm(ExecutorKey(store.url, settings.project, settings.domain, None),
                           settings, self.liveness)
        store.prune_executors(self.liveness.stale_after_s)
        for lease in store.driver_leases():
            reason = self.lost(lease, launcher.is_alive(lease.execution, lease.launch))
            if reason is None:
                continue
            log.warning("execution %s: %s; restarting its driver", lease.execution, reason)
            # Fenced out first, then told to stop: stopping, it must not record an end.
            ticket = store.restart_driver(lease.execution, lease.launch,
                                          self.liveness.max_driver_restarts, reason)
            launcher.kill(lease.execution, lease.launch)
            if ticket is not None:
                self.service.launch([ticket])

    def lost(self, lease: DriverLease, alive: bool) -> str | None:
        """Why the driver of ``lease`` counts as lost, or None while it does not."""
        since_launch = ((lease.now - lease.launched_at).total_seconds()
                        if lease.launched_at else float("inf"))
        if lease.heartbeat_at is None:
            # Not claimed yet. Taken by an executor (alive), it may take the start grace
            # (a code bundle Ray must set up); not taken, it may be waiting its turn in
            # an admin replica's queue, or lost with a replica that died: only past the
            # handoff grace is it lost. Judged sooner, each relaunch queued behind a
            # starting executor would count as one more loss.
            if since_launch > self.liveness.start_grace_s:
                return (f"its driver did not start within {self.liveness.start_grace_s:g} s "
                        "of its launch")
            if not alive and since_launch > self.liveness.handoff_grace_s:
                return (f"its launch reached no executor within "
                        f"{self.liveness.handoff_grace_s:g} s (the admin that made it may "
                        "be gone)")
            return None
        if not alive and since_launch > self.liveness.missing_grace_s:
            return "its driver's executor is gone"  # died, or was killed
        silent = (lease.now - lease.heartbeat_at).total_seconds()
        if silent > self.liveness.stale_after_s:
            return f"its driver's last heartbeat is {silent:.0f} s old"
        return None
