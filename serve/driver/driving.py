"""The driver of one launch of a remote execution: claim it, load its code, run it,
record.

Plain code that an executor (``serve.driver.executor``) runs in a thread of its own. The
SQL records are the source of truth: a driver (re)starting claims the execution (fencing
out any older driver), takes the outputs of nodes that succeeded before as RECOVERED,
and runs the rest with the engine's executor; hooks record what happens as it happens,
and the final phase is written last, with the workflow's outputs stored durably. An
execution with a timeout that runs past it is stopped as a terminated one is, and ends
TIMED_OUT.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from engine.catalog.blob import BlobStore, StorageConfig
from engine.catalog.literals import load_value, store_value
from engine.config import namespace
from engine.dag.compiler import CompiledWorkflow
from engine.dag.graph import topological_order
from engine.dag.run.executor import run
from engine.dag.run.state import ExecutionPhase
from engine.errors import (
    ErrorKind,
    ExecutionAbortedError,
    ExecutionError,
    FlyrayError,
    NodeFailedError,
)
from engine.types.type_engine import DataContext, TypeEngine
from serve.control.launching import DriverTicket
from serve.driver.code_loading import compile_registered
from serve.driver.event_writer import EventWriter
from serve.driver.hooks import AdminHooks, output_types
from serve.driver.signals import StoreSignals
from serve.errors import CodeLoadError, DriverFencedError, StoreError
from serve.store import AdminStore
from serve.store.execution_records import DriverClaim, ErrorInfo, Execution

log = logging.getLogger(__name__)

Outcome = tuple[ExecutionPhase, ErrorInfo | None, dict[str, Any] | None]
_FINISH_TRIES = 10


class DriverRun:
    """The driver of one launch of one execution; :meth:`main` runs it to its end."""

    def __init__(self, ticket: DriverTicket) -> None:
        self.ticket = ticket
        self._cause: str | None = None
        self._lock = threading.Lock()
        self._deadline: Deadline | None = None  # set once claimed, for a timeout
        self._timed_out = False  # the stop's cause is the deadline
        self._released = False  # the stop hands the execution back instead of ending it

    def request_stop(self, cause: str, timed_out: bool = False) -> None:
        """Stop the execution (idempotent; the first cause is kept)."""
        with self._lock:
            if self._cause is None:
                self._cause = cause
                self._timed_out = timed_out

    def request_release(self) -> None:
        """Stop driving the execution without ending it: its running nodes are stopped
        and the execution is handed back to be resumed by a later launch (the executor
        is draining). A stop asked for earlier wins."""
        with self._lock:
            if self._cause is None:
                self._cause = "its executor is draining; it resumes on the next launch"
                self._released = True

    def stop_cause(self) -> str | None:
        """Why the execution must stop, if it must: asked by the executor's loop."""
        deadline = self._deadline
        if self._cause is None and deadline is not None and deadline.passed():
            self.request_stop(deadline.message(), timed_out=True)
        return self._cause

    def main(self, store: AdminStore) -> None:
        """Drive the execution to its end (or hand it back), writing to ``store`` (the
        admin database of the ticket; the caller owns it)."""
        ticket = self.ticket
        try:
            claim = store.claim_driver(ticket.execution, ticket.launch)
            if claim is None:
                log.info("execution %s: ended, or driven by a later launch; nothing to do",
                         ticket.execution)
                return
            writer = EventWriter(store, ticket.execution, claim.incarnation,
                                 ticket.liveness.heartbeat_s, self.request_stop)
            writer.start()
            try:
                # The registered code was compiled for the execution's project and
                # domain: its identities (versions) are computed for them here too.
                with namespace(claim.execution.id.project, claim.execution.id.domain):
                    outcome = self._execute(claim, writer, StoreSignals(store, ticket.execution))
            finally:
                written = writer.close()
            if not written:  # fenced, or events lost: the end would contradict them
                if writer.fenced is None:
                    log.error("execution %s: its events could not all be written; its "
                              "end is not recorded, and a later launch resumes it",
                              ticket.execution)
                return
            if self._released and outcome[0] is ExecutionPhase.ABORTED:
                store.release_driver(ticket.execution, claim.incarnation)
                log.info("execution %s: handed back for a later launch", ticket.execution)
            else:
                self._finish(store, claim.incarnation, outcome)
        except DriverFencedError as e:
            log.info("execution %s: %s", ticket.execution, e)

    def _finish(self, store: AdminStore, incarnation: int, outcome: Outcome) -> None:
        delay = 0.1
        for attempt in range(_FINISH_TRIES):
            try:
                store.finish_execution(self.ticket.execution, incarnation, *outcome)
                return
            except StoreError as e:
                if attempt == _FINISH_TRIES - 1:
                    raise  # the supervisor restarts the driver, which finishes again
                log.warning("execution %s: cannot record its end yet: %s",
                            self.ticket.execution, e)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _execute(self, claim: DriverClaim, writer: EventWriter,
                 signals: StoreSignals) -> Outcome:
        execution = claim.execution
        if execution.abort_cause is not None:
            return ExecutionPhase.ABORTED, ErrorInfo("USER", execution.abort_cause), None
        self._deadline = Deadline.of(claim)
        if self._deadline is not None and self._deadline.passed():  # while no driver ran
            return ExecutionPhase.TIMED_OUT, ErrorInfo("USER", self._deadline.message()), None
        try:
            compiled = compile_registered(claim.workflow_spec, claim.task_spec,
                                          execution.code_uri)
        except CodeLoadError as e:
            return ExecutionPhase.FAILED, ErrorInfo("SYSTEM", str(e)), None
        except FlyrayError as e:  # the code imports, but no longer compiles here
            return ExecutionPhase.FAILED, ErrorInfo(
                "SYSTEM", f"the registered code does not compile here: {e}"), None
        settings = self.ticket.settings
        blobs = BlobStore(StorageConfig.from_settings(settings))
        ident = execution.id
        prefix = execution_prefix(execution, blobs)
        inputs, problem = _read_inputs(compiled, execution.inputs, blobs, prefix)
        if problem is not None:
            return ExecutionPhase.FAILED, ErrorInfo("USER", problem), None
        stored = {**claim.offered, **claim.done}
        hooks = AdminHooks(writer, compiled, blobs, prefix, settings.offload_threshold,
                           claim.attempts, stored,
                           {n: i for i, n in enumerate(topological_order(compiled.spec))},
                           execution.inputs)
        try:
            result = run(compiled, inputs, hooks=[hooks], settings=settings,
                         overwrite_cache=execution.overwrite_cache, stop=self.stop_cause,
                         recovered=_read_outputs(compiled, stored, blobs), signals=signals,
                         raw_output_prefix=f"{prefix}/raw"
                         if execution.raw_output_prefix is not None else "")
            names = list(compiled.python_interface.outputs)
            values = compiled.python_interface.unpack_outputs(result.outputs, "the workflow")
            outputs = {
                name: store_value(value, compiled.python_interface.outputs[name], blobs,
                                  f"{prefix}/outputs", settings.offload_threshold)
                for name, value in zip(names, values, strict=True)}
        except ExecutionAbortedError as e:
            phase = ExecutionPhase.TIMED_OUT if self._timed_out else ExecutionPhase.ABORTED
            return phase, ErrorInfo("USER", e.cause), None
        except NodeFailedError as e:
            return ExecutionPhase.FAILED, ErrorInfo(e.kind.value, str(e)), None
        except ExecutionError as e:
            kind = getattr(e, "kind", ErrorKind.USER)
            return ExecutionPhase.FAILED, ErrorInfo(ErrorKind(kind).value, str(e)), None
        except Exception as e:  # storage, Ray, or a bug: the execution fails, explicitly
            log.exception("execution %s failed in its driver", ident)
            return ExecutionPhase.FAILED, ErrorInfo("SYSTEM", f"{type(e).__name__}: {e}"), None
        return ExecutionPhase.SUCCEEDED, None, outputs


@dataclass(frozen=True)
class Deadline:
    """An execution's timeout. What it ran before this driver claimed it counts, by the
    database's clock (from ``started_at``: a restarted driver does not start the clock
    over); from the claim on, this process's monotonic clock counts."""

    timeout_s: float
    ran_s: float  # seconds it had run when claimed
    claimed: float  # time.monotonic() at the claim

    @classmethod
    def of(cls, claim: DriverClaim) -> Deadline | None:
        execution = claim.execution
        if execution.timeout_s is None:
            return None
        ran = 0.0
        if execution.started_at is not None and claim.claimed_at is not None:
            ran = max(0.0, (claim.claimed_at - execution.started_at).total_seconds())
        return cls(execution.timeout_s, ran, time.monotonic())

    def ran(self) -> float:
        return self.ran_s + time.monotonic() - self.claimed

    def passed(self) -> bool:
        return self.ran() >= self.timeout_s

    def message(self) -> str:
        return (f"the execution ran past its timeout of {self.timeout_s:g} s (it ran "
                f"{self.ran():.1f} s); its running nodes were stopped (ABORTED)")


def execution_prefix(execution: Execution, blobs: BlobStore) -> str:
    """Where an execution's data goes: ``<raw output prefix>/<project>/<domain>/<name>``
    when it has a raw-output prefix (its nodes' files, directories and dataframes under
    ``raw/``, offloaded values under ``outputs/`` and ``nodes/``), else
    ``executions/<project>/<domain>/<name>`` in the blob store (nodes' raw data then
    under the store's ``raw/``)."""
    ident = execution.id
    if execution.raw_output_prefix is not None:
        return "/".join((execution.raw_output_prefix.rstrip("/"), ident.project,
                         ident.domain, ident.name))
    return blobs.uri("executions", ident.project, ident.domain, ident.name)


def _read_inputs(compiled: CompiledWorkflow, values: dict[str, Any], blobs: BlobStore,
                 prefix: str) -> tuple[dict[str, Any], str | None]:
    """The Python values of the execution's JSON inputs, or what is wrong with one."""
    ctx = DataContext(blobs, f"{prefix}/inputs")
    types = compiled.python_interface.inputs
    inputs = {}
    for name, value in values.items():
        try:
            inputs[name] = TypeEngine.from_json(value, types[name], ctx)
        except (KeyError, ValueError, TypeError, FlyrayError) as e:
            return {}, (f"input '{name}' of workflow '{compiled.spec.id.name}' cannot be "
                        f"read as {types.get(name)}: {type(e).__name__}: {e}")
    return inputs, None


def _read_outputs(compiled: CompiledWorkflow, stored: dict[str, dict[str, Any]],
                  blobs: BlobStore) -> dict[str, dict[str, Any]]:
    """Python values of earlier nodes' stored outputs; a node whose outputs cannot be
    read (or that the workflow no longer has) is left out and runs again."""
    nodes = {n.id: n for n in compiled.spec.nodes}
    values: dict[str, dict[str, Any]] = {}
    for node_id, outputs in stored.items():
        node = nodes.get(node_id)
        if node is None or node.gate is None and node.task not in compiled.tasks:
            continue
        types = output_types(compiled, node_id)  # a gate's: its value's
        try:
            values[node_id] = {name: load_value(form, types[name], blobs)
                               for name, form in outputs.items()}
        except (KeyError, ValueError, TypeError, FlyrayError) as e:
            log.warning("node %s: earlier outputs unreadable (%s); it runs again", node_id, e)
    return values
