"""The driver of one execution: maps the nodes of a compiled workflow onto Ray.

Every node is submitted at once as a Ray task whose upstream outputs are
ObjectRefs, so Ray starts it as soon as its inputs exist and data never passes
through the driver. The driver loop only reads attempt outcomes: record, retry
(resubmitting the node and everything downstream of it), or fail.

The loop (:class:`_Driver`) reads the workflow as a :class:`RunGraph` and changes only a
:class:`RunState`; :class:`NodeCalls` starts attempts on Ray, :class:`BranchSteps`
decides conditionals, :mod:`engine.dag.run.outcomes` records how attempts ended.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import ray
from ray.exceptions import RayError

from engine.catalog.blob import BlobStore, StorageConfig
from engine.catalog.memo import CacheSettings
from engine.config import Settings, load_settings
from engine.dag.compiler import CompiledWorkflow
from engine.dag.recovery import recoverable
from engine.dag.run.branch_steps import BranchSteps
from engine.dag.run.cluster import ensure_ray
from engine.dag.run.context import NodeServices, current_node
from engine.dag.run.gate_prompt import TerminalSignals
from engine.dag.run.gate_steps import GateSteps, SignalSource
from engine.dag.run.hooks import ExecutionHooks
from engine.dag.run.node_calls import NodeCalls, bind
from engine.dag.run.on_failure import run_on_failure
from engine.dag.run.outcomes import (
    RECOVERABLE_RETRIES,
    Failure,
    RetryBudget,
    outputs_unstored,
    record_failed,
    record_succeeded,
)
from engine.dag.run.preflight import check_feasible, check_store, upload_inputs
from engine.dag.run.run_graph import RunGraph
from engine.dag.run.run_state import RunState, Submission
from engine.dag.run.state import (
    AttemptRecord,
    ExecutionPhase,
    ExecutionRecord,
    NodePhase,
    NodeRecord,
)
from engine.dag.run.worker import AttemptInfo, fill
from engine.dag.spec import Node, WorkflowFailurePolicy
from engine.errors import (
    ErrorKind,
    ExecutionAbortedError,
    ExecutionError,
    NodeFailedError,
    StorageError,
)
from engine.logs.store import attempt_log_uri

# RECOVERABLE_RETRIES is read here too (it lives with the retry budgets in outcomes).
__all__ = ["RECOVERABLE_RETRIES", "ExecutionResult", "run"]

# How long the driver lets attempts end before it collects their outcomes together:
# the delay before it sees a failure (and retries or stops), never that of a success.
POLL_S = 0.05


@dataclass(frozen=True)
class ExecutionResult:
    record: ExecutionRecord
    outputs: Any  # as the workflow call returns them


def run(
    compiled: CompiledWorkflow,
    inputs: dict[str, Any],
    hooks: Iterable[ExecutionHooks] = (),
    settings: Settings | None = None,
    overwrite_cache: bool = False,
    services: NodeServices | None = None,
    stop: Callable[[], str | None] | None = None,
    recovered: Mapping[str, Mapping[str, Any]] | None = None,
    raw_output_prefix: str = "",
    signals: SignalSource | None = None,
) -> ExecutionResult:
    """Run ``compiled`` on Ray with already-checked ``inputs``; raise on failure.

    With ``overwrite_cache`` cached tasks run again and replace what the data
    catalog holds for their inputs. ``services`` (blob store, catalog, admin API) default to
    the settings'; a node running a sub-DAG (``@dynamic``) passes its own.

    Remote executions (``serve.driver.actor``) also pass ``stop``, polled by the driver loop
    (every ``POLL_S``): once it returns a cause, running work is cancelled and the
    execution ends ABORTED with that cause; and ``recovered``, outputs of nodes that
    succeeded in an earlier execution (node id -> output name -> value): those nodes
    are not run but RECOVERED, downstream nodes read their outputs (see
    :func:`engine.dag.recovery.recoverable` for which are taken); and
    ``raw_output_prefix``, a URI in the blob store under which nodes write their raw
    outputs (files, directories, dataframes) instead of the store's ``raw/`` area.
    ``signals`` is where gate nodes (``wait_for_input``, ``approve``) get their values:
    the terminal by default; a remote execution's driver passes the admin database.

    Raises:
        ResourceRequestError: a node asks for resources no Ray node has.
        NodeFailedError: a node failed its last attempt.
        ExecutionAbortedError: ``stop`` asked to stop.
    """
    settings = settings or load_settings()
    ensure_ray(settings)
    services = services or NodeServices(
        StorageConfig.from_settings(settings),
        CacheSettings(settings.catalog_url_or_default, settings.offload_threshold,
                      overwrite=overwrite_cache),
        settings.admin_endpoint, settings.admin_token, raw_output_prefix,
    )
    return _Driver(compiled, inputs, list(hooks), services, settings.max_system_retries, stop,
                   recovered, signals or TerminalSignals()).run()


class _Driver:
    """One execution, driven from its checks to its end by :meth:`run`.

    The attributes are set once; what changes while the execution runs is in ``state``
    (``calls`` only holds each unit's Ray handles, and its published unit until the end).
    """

    def __init__(self, compiled: CompiledWorkflow, inputs: dict[str, Any],
                 hooks: list[ExecutionHooks], services: NodeServices,
                 max_system_retries: int, stop: Callable[[], str | None] | None = None,
                 recovered: Mapping[str, Mapping[str, Any]] | None = None,
                 signals: SignalSource | None = None) -> None:
        self.graph = RunGraph.of(compiled)
        self.state = RunState.of(self.graph, _new_record(self.graph), inputs)
        self.services = services
        self.blobs = BlobStore(services.storage)  # where attempts' logs go
        self.hooks = hooks
        self.calls = NodeCalls(self.graph, services, self.state.record)
        self.branches = BranchSteps(self.state, self._set_phase)
        self.gates = GateSteps(self.state, self._set_phase, self._attempt_end,
                               self._gate_outputs, signals or TerminalSignals())
        # Retries of each node after attempts lost with their worker (the settings').
        self.max_system_retries = max_system_retries
        # --- remote executions only (serve.driver.actor); local runs leave these empty ---
        # Asked between batches of outcomes: a cause once the execution must stop.
        self.stop = stop
        # Hooks that want each succeeded node's output values before it is SUCCEEDED.
        self.output_hooks = [h for h in hooks if h.wants_outputs]
        # Outputs of nodes taken from an earlier execution instead of being run.
        self.recovered = recoverable(compiled.spec, recovered, inputs) if recovered else {}

    # --- the phases of a run: start, submit ready nodes, wait, record, retry or fail ----

    def run(self) -> ExecutionResult:
        self._start()
        try:
            self._recover()
            self._advance()
            while self.state.pending or self.gates.waiting():
                self._record(self._wait())
                self._check_stop()
                self._advance()
            for node_id in self.state.unsubmitted:  # below a conditional arm not taken
                self._set_phase(node_id, NodePhase.SKIPPED)
            if self.state.failures:
                raise self.state.failures[0]
            outputs = self._outputs()
        except BaseException as e:
            self._stop(e)
            raise
        finally:  # no attempt is waited for any more (_stop cancelled what ran)
            self.gates.close()
            self.calls.close()
        record = self.state.record
        record.finish(ExecutionPhase.SUCCEEDED)
        for h in self.hooks:
            h.on_execution_end(record)
        return ExecutionResult(record, outputs)

    def _start(self) -> None:
        """Fail early on what can never work, upload input files, start the record."""
        check_feasible(self.graph)
        check_store(self.graph, self.services.storage)
        record = self.state.record
        inputs = upload_inputs(self.graph, self.state.inputs, self.services.storage,
                               record.name)
        record.start()
        for h in self.hooks:
            h.on_execution_start(record)
        self.state.set_inputs(inputs, {k: ray.put(v) for k, v in inputs.items()})

    def _recover(self) -> None:
        """Take nodes of an earlier execution: not run, outputs put in the object store."""
        for node_id, values in self.recovered.items():
            self.state.dequeue(node_id)
            self.state.alias(node_id, {name: ray.put(v) for name, v in values.items()})
        self.branches.decide_recovered(self.recovered)  # hooks see their arms once RECOVERED
        for node_id in self.recovered:
            self._set_phase(node_id, NodePhase.RECOVERED)

    def _advance(self) -> None:
        """Submit every node that can go now; decide branches whose operands exist."""
        progress = True
        while progress:
            progress = False
            for node_id in list(self.state.unsubmitted):
                if self.branches.held_back(node_id):
                    continue
                if self.graph.nodes[node_id].branch is not None:
                    progress |= self.branches.step(node_id)
                elif self.graph.nodes[node_id].gate is not None:
                    progress |= self._gate_step(node_id)
                elif all(self.state.is_submitted(u) for u in self.graph.upstream[node_id]):
                    self.state.dequeue(node_id)
                    self._submit(node_id)
                    progress = True

    def _gate_step(self, node_id: str) -> bool:
        """Start or finish a gate (it holds no worker: see GateSteps); a failed gate fails
        as a node's last attempt does."""
        try:
            return self.gates.step(node_id)
        except NodeFailedError as error:
            if self.graph.spec.failure_policy is not \
                    WorkflowFailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE:
                raise
            self._fail_later(node_id, error)
            return True

    def _submit(self, node_id: str) -> None:
        """Submit an attempt of ``node_id`` wired to the current upstream attempts."""
        node = self.graph.nodes[node_id]
        self.state.drop_open_attempt(node_id)  # resubmitted: an upstream node is retried
        attempt = self.state.record.begin_attempt(node_id, time.time())
        self._attempt_start(node_id, attempt)
        template, refs = bind(node.inputs, self.graph.task(node_id).python_interface.inputs,
                              self.state.ref)
        # Nodes ordered before this one with '>>': their status refs are passed too (and
        # ignored by the worker) so that Ray starts this node only after them.
        current = self.state.current
        refs.extend(current[u].status for u in node.extra_upstream if u in current)
        status, outputs = self.calls.start(node_id, attempt.attempt, template, refs)
        self.state.track(Submission(node_id, status, outputs, attempt))
        ready = self.state.ready(node_id)
        self._set_phase(node_id, NodePhase.RUNNING if ready else NodePhase.QUEUED)
        if ready:
            self.state.note_ready(node_id)

    def _wait(self) -> list[Submission]:
        """Every finished submission, at least one, upstream nodes first."""
        # Ray runs the DAG by itself (upstream outputs are ObjectRefs): the driver only
        # collects outcomes, in batches. Asking Ray about every attempt as it ends costs
        # the driver (which shares the CPUs with the workers) more than the nodes do.
        if self.gates.poll():
            return []  # a gate's wait ended: the next _advance finishes it
        refs = list(self.state.pending)
        ready = _ended(refs, len(refs), self.gates.due_in(POLL_S))
        while not ready:  # nothing ended yet: wait for the first (a timeout, for Ctrl-C)
            self._check_stop()
            if self.gates.poll():
                return []  # a gate's wait ended: the next _advance finishes it
            ready = _ended(refs, 1, self.gates.due_in(1.0 if self.stop is None else POLL_S))
        subs = [self.state.pending[r] for r in ready]
        return sorted(subs, key=lambda s: self.graph.position[s.node_id])

    def _record(self, ended: list[Submission]) -> None:
        """Record how each of the ``ended`` attempts went, and retry or fail."""
        try:  # one call for the whole batch; one by one when any attempt failed
            wires = ray.get([sub.status for sub in ended])
        except RayError:
            wires = [None] * len(ended)
        for sub, wire in zip(ended, wires, strict=True):
            self._handle(sub, wire)

    def _handle(self, sub: Submission, wire: list[Any] | None) -> None:
        """Record how an attempt ended (``wire``: its status, when already fetched)."""
        if not self.state.claim(sub):
            return  # superseded (an upstream retry resubmitted it) or skipped meanwhile
        nrec = self.state.record.nodes[sub.node_id]
        try:
            info = AttemptInfo.from_wire(wire if wire is not None else ray.get(sub.status))
        except RayError as e:
            self._failed(sub, record_failed(nrec, sub.attempt, e, self._overran(sub.node_id)))
            return
        record_succeeded(nrec, sub.attempt, info)
        if self.output_hooks:  # remote executions: outputs are stored before SUCCEEDED
            try:
                self._report_outputs(sub, nrec)
            except StorageError as e:  # not durable: the attempt's outputs are lost
                self._failed(sub, outputs_unstored(sub.attempt, e))
                return
        self._attempt_end(sub.node_id, sub.attempt)
        self._set_phase(sub.node_id, NodePhase.SUCCEEDED)
        for child in self.graph.children[sub.node_id]:
            if self.state.record.nodes[child].phase.terminal or child not in self.state.current:
                continue  # done, or not submitted yet (in an arm not decided yet)
            if self.state.ready(child):
                self.state.note_ready(child)
                self._set_phase(child, NodePhase.RUNNING)

    def _overran(self, node_id: str) -> float | None:
        """The task's timeout, when ``node_id`` has been ready for longer than it."""
        timeout_s = self.graph.metadata(node_id).timeout_s
        since = self.state.ready_since.get(node_id)
        if timeout_s and since is not None and time.monotonic() - since >= timeout_s:
            return timeout_s
        return None

    def _failed(self, sub: Submission, failure: Failure) -> None:
        """Retry the node if the budget of its failure's sort has retries left, else fail
        it: the execution, or (under FAIL_AFTER_EXECUTABLE_NODES_COMPLETE) the nodes
        that depend on it."""
        attempt = sub.attempt
        self._attempt_end(sub.node_id, attempt)
        budget = RetryBudget(self.graph.metadata(sub.node_id).retries, self.max_system_retries)
        if budget.allows(failure, self.state.count_failure(sub.node_id, failure.lost)):
            self._retry(sub.node_id)
            return
        self._set_phase(sub.node_id, failure.outcome)
        spent = budget.spent(failure)
        error = NodeFailedError(self.graph.name, sub.node_id, self.graph.nodes[sub.node_id].task,
                                attempt.attempt, failure.kind,
                                f"{failure.message}\n{spent}" if spent else failure.message)
        policy = self.graph.spec.failure_policy
        if policy is not WorkflowFailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE:
            raise error
        self._fail_later(sub.node_id, error)

    def _retry(self, node_id: str) -> None:
        """Submit ``node_id`` again, and every node downstream of it that was submitted
        on its outputs (decided branches point at the new ones)."""
        for n in [node_id, *self.graph.downstream(node_id)]:
            if n in self.state.aliases:
                self.branches.alias(n)
            elif n in self.state.current:
                self._submit(n)

    def _fail_later(self, node_id: str, error: NodeFailedError) -> None:
        """Let every node that does not depend on the failed one run to its end."""
        self.state.fail_later(error)
        for n in self.graph.downstream(node_id):
            withdrawn = self.state.withdraw(n)
            if withdrawn is not None:
                with contextlib.suppress(RayError, ValueError, TypeError):
                    ray.cancel(withdrawn.status)
            self._set_phase(n, NodePhase.SKIPPED)

    def _stop(self, error: BaseException) -> None:
        """Cancel what is still pending and close the record after a failure."""
        record = self.state.record
        for sub in self.state.drain():
            # Only attempts that may be running are stopped. A node still waiting for its
            # inputs never starts once an input failed, and force-cancelling it can kill
            # the worker that has meanwhile taken other work.
            if record.nodes[sub.node_id].phase is not NodePhase.RUNNING:
                continue
            # Finished or not cancellable any more: then there is nothing to stop.
            with contextlib.suppress(RayError, ValueError, TypeError):
                ray.cancel(sub.status, force=True)
        failed = [n for n, r in record.nodes.items()
                  if r.phase in (NodePhase.FAILED, NodePhase.TIMED_OUT)]
        skipped = {d for f in failed for d in self.graph.downstream(f)}
        for node_id, nrec in record.nodes.items():
            if not nrec.phase.terminal:
                self._abort_open_attempt(node_id)
                self._set_phase(node_id, NodePhase.SKIPPED if node_id in skipped
                                else NodePhase.ABORTED)
        handler = self.graph.spec.on_failure
        if isinstance(error, NodeFailedError) and handler is not None:
            run_on_failure(handler, error, self.state, self.calls, self._set_phase)
        record.finish(*_ending(error))
        for h in self.hooks:
            h.on_execution_end(record)

    def _abort_open_attempt(self, node_id: str) -> None:
        """End the last attempt of ``node_id`` ABORTED if it has not ended: the hooks
        were told it started when it was submitted, so they must see it end too."""
        attempts = self.state.record.nodes[node_id].attempts
        if attempts and attempts[-1].outcome is None:
            attempt = attempts[-1]
            attempt.end, attempt.outcome = time.time(), NodePhase.ABORTED
            attempt.error = "stopped: the execution ended before this attempt did"
            self._attempt_end(node_id, attempt)

    def _check_stop(self) -> None:
        if self.stop is not None and (cause := self.stop()) is not None:
            raise ExecutionAbortedError(cause)

    # --- telling the hooks ---------------------------------------------------------------

    def _set_phase(self, node_id: str, phase: NodePhase) -> None:
        if self.state.set_phase(node_id, phase):
            record = self.state.record
            for h in self.hooks:
                h.on_node_phase(record, record.nodes[node_id])

    def _attempt_start(self, node_id: str, attempt: AttemptRecord) -> None:
        record = self.state.record
        attempt.log_uri = attempt_log_uri(self.blobs, record.name, node_id, attempt.attempt)
        for h in self.hooks:
            h.on_attempt_start(record, record.nodes[node_id], attempt)

    def _attempt_end(self, node_id: str, attempt: AttemptRecord) -> None:
        record = self.state.record
        for h in self.hooks:
            h.on_attempt_end(record, record.nodes[node_id], attempt)

    def _report_outputs(self, sub: Submission, nrec: NodeRecord) -> None:
        values = ray.get(list(sub.outputs.values())) if sub.outputs else []
        outputs = dict(zip(sub.outputs, values, strict=True))
        for h in self.output_hooks:
            h.on_node_outputs(self.state.record, nrec, outputs)

    def _gate_outputs(self, node_id: str, outputs: dict[str, ray.ObjectRef]) -> None:
        if not self.output_hooks:  # local runs: nothing stores them, nothing is fetched
            return
        values = dict(zip(outputs, ray.get(list(outputs.values())), strict=True)) \
            if outputs else {}
        for h in self.output_hooks:
            h.on_node_outputs(self.state.record, self.state.record.nodes[node_id], values)

    def _outputs(self) -> Any:
        """The workflow's outputs, as its call returns them."""
        iface = self.graph.compiled.python_interface
        template, refs = bind(self.graph.spec.outputs, iface.outputs, self.state.ref)
        values = tuple(ray.get(refs)) if refs else ()
        return iface.pack_outputs(list(fill(template, values).values()))


def _ended(refs: list[ray.ObjectRef], count: int, timeout: float) -> list[ray.ObjectRef]:
    """Up to ``count`` of ``refs`` that ended within ``timeout`` seconds (while only gates
    wait, there are no refs: the driver sleeps until a gate is due)."""
    if not refs:
        time.sleep(timeout)
        return []
    ready, _ = ray.wait(refs, num_returns=count, timeout=timeout, fetch_local=False)
    return list(ready)


def _new_record(graph: RunGraph) -> ExecutionRecord:
    """The record of a new execution of ``graph``, every node QUEUED."""
    record = ExecutionRecord(
        name="f" + uuid.uuid4().hex[:19],
        workflow=graph.name,
        nodes={n.id: NodeRecord(n.id, _label(n)) for n in graph.spec.nodes},
    )
    parent = current_node()  # set where a node runs a sub-DAG (dynamic, launch plan)
    if parent is not None:
        record.parent = f"{parent[0].execution_id}/{parent[0].node_id}"
    return record


def _label(node: Node) -> str:
    """What a node's record names as its task: a conditional and a gate run none."""
    if node.branch is not None:
        return f"conditional '{node.branch.name}'"
    return node.gate.label if node.gate is not None else node.task


def _ending(error: BaseException) -> tuple[ExecutionPhase, str | None, ErrorKind | None]:
    """How an execution that raised ``error`` ends: its phase, error and error kind."""
    if isinstance(error, ExecutionAbortedError):
        return ExecutionPhase.ABORTED, error.cause, None
    if isinstance(error, ExecutionError):
        return ExecutionPhase.FAILED, str(error), getattr(error, "kind", ErrorKind.SYSTEM)
    if isinstance(error, KeyboardInterrupt):
        return ExecutionPhase.ABORTED, "interrupted by the user", None
    return ExecutionPhase.FAILED, f"{type(error).__name__}: {error}", ErrorKind.SYSTEM
