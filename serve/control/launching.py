"""How the admin starts and stops execution drivers, without importing Ray.

``create_app`` takes a :class:`Launcher`; ``serve.deployment`` hands it the Ray one
(``serve.control.launcher.RayLauncher``), which runs each execution's driver as a detached Ray
actor (``serve.driver.actor``). :class:`Liveness` holds the timings of heartbeats and of the
supervisor that restarts lost drivers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
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
        missing_grace_s: how long after a launch a driver actor that Ray does not know
            counts as lost (covers the launch racing the supervisor).
        supervise_every_s: how often the supervisor looks for lost drivers.
        max_starting_drivers: how many drivers may be starting (launched, not yet
            claimed) at once; more executions wait QUEUED meanwhile. Each driver is a new
            process importing the engine (about a second of CPU): a burst of them at once
            would starve the machine, the API with it. Default: half the CPUs of the
            admin's machine, at least one.
        dispatch_every_s: how often the supervisor looks for a start slot while
            executions wait for one.
        max_driver_restarts: restarts of lost drivers before the execution FAILS.
        terminate_wait_s: how long a terminate request waits for the driver to confirm.
    """

    heartbeat_s: float = 5.0
    stale_after_s: float = 60.0
    start_grace_s: float = 180.0
    missing_grace_s: float = 10.0
    supervise_every_s: float = 5.0
    max_starting_drivers: int = field(default_factory=lambda: max(1, (os.cpu_count() or 2) // 2))
    dispatch_every_s: float = 0.1
    max_driver_restarts: int = 3
    terminate_wait_s: float = 15.0


@dataclass(frozen=True)
class DriverTicket:
    """Everything a driver actor is started with (plain data, pickled to the actor).

    Attributes:
        launch: which launch of the execution this driver is; names its actor.
        code_uri: zip of the registered code (Ray's ``working_dir``), if any.
        admin_db_url: the admin database, where the driver claims and records.
        settings: the admin server's settings (blob store, data catalog, ...).
    """

    execution: ExecutionId
    launch: int
    code_uri: str | None
    admin_db_url: str
    settings: Settings
    heartbeat_s: float

    @classmethod
    def of(cls, ticket: LaunchTicket, admin_db_url: str, settings: Settings,
           liveness: Liveness) -> DriverTicket:
        return cls(ticket.execution, ticket.launch, ticket.code_uri, admin_db_url, settings,
                   liveness.heartbeat_s)


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
        """End the driver at once, without restart; a no-op when it is gone."""
