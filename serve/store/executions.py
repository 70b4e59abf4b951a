"""The admin store's methods for executions, node executions and their drivers.

A mixin of :class:`serve.store.AdminStore` (kept apart so that each stays small): every
method is one short transaction over ``self.database`` taking and returning the plain
data of ``serve.store.execution_records``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.dag.run.state import ExecutionPhase
from serve.store import _executions, _leases, _node_executions
from serve.store._db import Database
from serve.store.execution_records import (
    DriverClaim,
    DriverLease,
    ErrorInfo,
    Event,
    Execution,
    ExecutionFilters,
    ExecutionId,
    ExecutionMode,
    ExecutionRequest,
    LaunchTicket,
    NodeExecution,
)
from serve.store.records import ListOptions, Page

Created = tuple[Execution, bool, list[LaunchTicket]]


class ExecutionMethods:
    database: Database

    # --- the API ---------------------------------------------------------------------

    def create_execution(self, request: ExecutionRequest, blob_root: str | None = None,
                         max_starting: int | None = None) -> Created:
        """Create a QUEUED execution (or find the identical request's); returns it,
        whether it is new, and the drivers to start now (see :meth:`dispatch_waiting`).
        ``blob_root``: the blob store that file and dataframe inputs must be in."""

        def create(s: Any) -> Created:
            row, created = _executions.create(s, request, blob_root)
            tickets = _leases.dispatch(s, max_starting) if created else []
            return _executions.record_of(s, row), created, tickets

        return self.database.run(create, write=True)

    def relaunch_execution(self, source: ExecutionId, name: str | None = None,
                           overwrite_cache: bool | None = None,
                           max_starting: int | None = None) -> Created:
        """A new execution of the same entity versions with the same inputs."""
        return self._create_from(source, ExecutionMode.RELAUNCH, name, overwrite_cache,
                                 max_starting)

    def recover_execution(self, source: ExecutionId, name: str | None = None,
                          max_starting: int | None = None) -> Created:
        """A new execution that takes the outputs of ``source``'s succeeded nodes and runs
        the others (failed, skipped, aborted or never started)."""
        return self._create_from(source, ExecutionMode.RECOVER, name, None, max_starting)

    def _create_from(self, source: ExecutionId, mode: ExecutionMode, name: str | None,
                     overwrite_cache: bool | None, max_starting: int | None) -> Created:
        def create(s: Any) -> Created:
            row, created = _executions.create_from(s, source, mode, name, overwrite_cache)
            tickets = _leases.dispatch(s, max_starting) if created else []
            return _executions.record_of(s, row), created, tickets

        return self.database.run(create, write=True)

    def get_execution(self, ident: ExecutionId) -> Execution:
        return self.database.run(
            lambda s: _executions.record_of(s, _executions.get_row(s, ident)), write=False)

    def list_executions(self, project: str, domain: str,
                        filters: ExecutionFilters | None = None,
                        options: ListOptions | None = None) -> Page[Execution]:
        return self.database.run(lambda s: _executions.list_executions(
            s, project, domain, filters or ExecutionFilters(), options or ListOptions()),
            write=False)

    def terminate_execution(self, ident: ExecutionId, cause: str) -> tuple[Execution, int]:
        """Ask an execution to stop; returns it and the launch whose driver must be told
        (0 when it ended here already)."""

        def terminate(s: Any) -> tuple[Execution, int]:
            row, launch = _executions.request_abort(s, ident, cause)
            return _executions.record_of(s, row), launch

        return self.database.run(terminate, write=True)

    def force_abort(self, ident: ExecutionId) -> Execution:
        """End a terminated execution ABORTED when its driver did not confirm it."""

        def abort(s: Any) -> Execution:
            _leases.force_abort(s, ident)
            return _executions.record_of(s, _executions.get_row(s, ident))

        return self.database.run(abort, write=True)

    def list_node_executions(self, ident: ExecutionId) -> list[NodeExecution]:
        return self.database.run(lambda s: _node_executions.list_nodes(s, ident), write=False)

    def get_node_execution(self, ident: ExecutionId, node_id: str) -> NodeExecution:
        return self.database.run(lambda s: _node_executions.get_node(s, ident, node_id),
                                 write=False)

    # --- the supervisor ----------------------------------------------------------------

    def dispatch_waiting(self, max_starting: int | None = None) -> list[LaunchTicket]:
        """Launch waiting executions, oldest first, as far as their launch plans' slots
        allow and with at most ``max_starting`` drivers starting at once (None: no bound);
        returns the drivers to start."""
        return self.database.run(lambda s: _leases.dispatch(s, max_starting), write=True)

    def executions_waiting(self) -> bool:
        """Whether any execution waits to be launched (for a start or launch plan slot)."""
        return self.database.run(_leases.waiting, write=False)

    def driver_leases(self) -> list[DriverLease]:
        return self.database.run(_leases.leases, write=False)

    def restart_driver(self, ident: ExecutionId, launch: int, max_restarts: int,
                       reason: str) -> LaunchTicket | None:
        return self.database.run(
            lambda s: _leases.restart(s, ident, launch, max_restarts, reason), write=True)

    # --- the driver --------------------------------------------------------------------

    def claim_driver(self, ident: ExecutionId, launch: int) -> DriverClaim | None:
        return self.database.run(lambda s: _leases.claim(s, ident, launch), write=True)

    def record_events(self, ident: ExecutionId, incarnation: int,
                      events: Sequence[Event]) -> str | None:
        """Write a driver's events; returns the abort cause once a stop is requested."""
        return self.database.run(
            lambda s: _node_executions.record(s, ident, incarnation, events), write=True)

    def heartbeat(self, ident: ExecutionId, incarnation: int) -> str | None:
        return self.database.run(lambda s: _leases.heartbeat(s, ident, incarnation),
                                 write=True)

    def finish_execution(self, ident: ExecutionId, incarnation: int, phase: ExecutionPhase,
                         error: ErrorInfo | None = None,
                         outputs: dict[str, Any] | None = None) -> None:
        self.database.run(
            lambda s: _leases.finish(s, ident, incarnation, phase, error, outputs), write=True)
