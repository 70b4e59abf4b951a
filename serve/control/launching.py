"""How the admin starts and stops execution drivers, without importing Ray.

``create_app`` takes a :class:`Launcher`; ``serve.deployment`` hands it the Ray one
(``serve.control.launcher.RayLauncher``), which hands each execution's driver to a warm
executor (``serve.driver.executor``: a long-lived Ray actor driving many executions, one
thread each). :class:`Liveness` holds the timings of heartbeats, of the supervisor that
restarts lost drivers, and of the executors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from engine.config import Settings
from serve.store.execution_records import ExecutionId, LaunchTicket


@dataclass(frozen=True)
class Liveness:
    """Timings of drivers and of the supervisor that watches them (seconds).

    Attributes:
        heartbeat_s: how often a driver writes its heartbeat (when it has no events).
        stale_after_s: a driver whose heartbeat is older than this is presumed lost.
        start_grace_s: how long a launched driver may take to claim its execution (Ray
            may first fetch and unpack the code bundle).
        missing_grace_s: how long after a launch a driver that claimed its execution
            but that no executor drives counts as lost (covers the launch racing the
            supervisor).
        handoff_grace_s: how long a launch that no executor has taken yet may stay in
            an admin's hands (its queue, or an executor still starting) before it counts
            as lost: the admin that made it may have died with it. Longer than a queue
            behind a starting executor usually lasts, so that another admin replica does
            not take a launch still on its way for a lost one.
        supervise_every_s: how often the supervisor looks for lost drivers.
        max_starting_drivers: how many drivers may be starting (launched, not yet
            claimed) at once; more executions wait QUEUED meanwhile. A driver is a thread
            of a warm executor, but the first execution of a new code version waits for
            its executor to start: this bounds what queues behind it.
        dispatch_every_s: how often the supervisor looks for a start slot while
            executions wait for one.
        max_driver_restarts: restarts of lost drivers before the execution FAILS.
        terminate_wait_s: how long a terminate request waits for the driver to confirm.
        warm_executors: executors for the default project and domain (code on the
            cluster's Python path) kept running while idle, so a first execution
            starts without waiting for one.
        executor_idle_s: an executor beyond the warm ones that drove nothing for this
            long ends.
        executor_capacity: executions one executor drives at once; more start another.
    """

    heartbeat_s: float = 5.0
    stale_after_s: float = 60.0
    start_grace_s: float = 180.0
    missing_grace_s: float = 10.0
    handoff_grace_s: float = 60.0
    supervise_every_s: float = 5.0
    max_starting_drivers: int = 64
    dispatch_every_s: float = 0.1
    max_driver_restarts: int = 3
    terminate_wait_s: float = 15.0
    warm_executors: int = 1
    executor_idle_s: float = 300.0
    executor_capacity: int = 64

    @classmethod
    def of(cls, settings: Settings) -> Liveness:
        """The default timings with the executor policy of ``settings``."""
        return cls(warm_executors=settings.warm_executors,
                   executor_idle_s=settings.executor_idle_s,
                   executor_capacity=settings.executor_capacity)


@dataclass(frozen=True)
class DriverTicket:
    """Everything a driver is started with (plain data, pickled to its executor).

    Attributes:
        launch: which launch of the execution this driver is; names its actor.
        code_uri: zip of the registered code (Ray's ``working_dir``), if any.
        admin_db_url: the admin database, where the driver claims and records.
        settings: the admin server's settings (blob store, data catalog, ...).
        liveness: the admin's timings (heartbeats) and executor policy.
    """

    execution: ExecutionId
    launch: int
    code_uri: str | None
    admin_db_url: str
    settings: Settings
    liveness: Liveness

    @classmethod
    def of(cls, ticket: LaunchTicket, admin_db_url: str, settings: Settings,
           liveness: Liveness) -> DriverTicket:
        return cls(ticket.execution, ticket.launch, ticket.code_uri, admin_db_url, settings,
                   liveness)


@dataclass(frozen=True)
class ExecutorKey:
    """What the executions one executor drives share: the admin database they are
    recorded in, their project and domain, and their code bundle (None: the cluster's
    Python path). Their tasks so share the executor's Ray runtime environment, and
    with it warm Ray workers."""

    admin_db_url: str
    project: str
    domain: str
    code_uri: str | None

    @classmethod
    def of(cls, ticket: DriverTicket) -> ExecutorKey:
        return cls(ticket.admin_db_url, ticket.execution.project, ticket.execution.domain,
                   ticket.code_uri)


class Launcher(Protocol):
    """Starts, stops and looks for the driver of one launch of an execution."""

    def launch(self, ticket: DriverTicket) -> None:
        """Start the driver; a no-op when it runs already."""

    def stop(self, execution: ExecutionId, launch: int, cause: str, timeout_s: float) -> bool:
        """Ask the driver to stop (it records ABORTED with ``cause``); True once it has
        stopped, False when it is gone or did not stop within ``timeout_s``."""

    def is_alive(self, execution: ExecutionId, launch: int) -> bool:
        """Whether the driver exists (running, starting or being restarted)."""

    def kill(self, execution: ExecutionId, launch: int) -> None:
        """Drop the driver at once (it is fenced out when it next writes); a no-op when
        it is gone."""

    def keep_warm(self, key: ExecutorKey, settings: Settings, liveness: Liveness) -> None:
        """Have ``liveness.warm_executors`` executors of ``key`` running, idle or not."""

    def drain(self, admin_db_url: str, timeout_s: float) -> int:
        """Hand back every execution the executors of ``admin_db_url`` drive (each is
        resumed by a later launch, not ended) and end those executors; returns how many
        executions were handed back."""
