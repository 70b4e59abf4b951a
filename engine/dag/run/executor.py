"""The driver of one execution: maps the nodes of a compiled workflow onto Ray.

Every node is submitted at once as a Ray task whose upstream outputs are
ObjectRefs, so Ray starts it as soon as its inputs exist and data never passes
through the driver. The driver loop only reads attempt outcomes: record, retry
(resubmitting the node and everything downstream of it), or fail.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import ray
from ray.exceptions import RayError, RayTaskError

from engine.catalog.blob import BlobStore, StorageConfig
from engine.catalog.memo import CacheSettings
from engine.config import Settings, load_settings
from engine.dag.branching import gates
from engine.dag.compiler import CompiledWorkflow
from engine.dag.graph import downstream_of, topological_order
from engine.dag.overrides import OverriddenTask
from engine.dag.recovery import recoverable
from engine.dag.run import local_nodes
from engine.dag.run.branch_steps import BranchSteps
from engine.dag.run.cluster import cluster_nodes, ensure_ray, infeasibility, ray_request
from engine.dag.run.context import ExecutionParameters
from engine.dag.run.hooks import ExecutionHooks
from engine.dag.run.state import (
    AttemptRecord,
    ExecutionPhase,
    ExecutionRecord,
    NodePhase,
    NodeRecord,
    nodes_from_rows,
)
from engine.dag.run.worker import (
    AttemptInfo,
    NodeServices,
    NodeUnit,
    Slot,
    current_node,
    fill,
    ray_execute_node,
    record_failure,
    record_success,
)
from engine.dag.spec import (
    ON_FAILURE_ERROR,
    START_NODE,
    Binding,
    BindingList,
    BindingMap,
    Constant,
    Node,
    OutputRef,
    TaskMetadata,
    WorkflowFailurePolicy,
)
from engine.dag.trace import TaskLike
from engine.errors import (
    AttemptError,
    ErrorKind,
    ExecutionAbortedError,
    ExecutionError,
    NodeFailedError,
    ResourceRequestError,
    StorageError,
)
from engine.types.error import FlyteError
from engine.types.literal import holds_blob
from engine.types.type_engine import DataContext, TypeEngine, container_item_type

# How long the driver lets attempts end before it collects their outcomes together:
# the delay before it sees a failure (and retries or stops), never that of a success.
POLL_S = 0.05

# Retries a FlyteRecoverableException gets beyond the task's own ``retries``: the user
# says the failure is transient, as Flyte's budget for system failures.
RECOVERABLE_RETRIES = 3


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
    :func:`engine.dag.recovery.recoverable` for which are taken).

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
        settings.admin_endpoint, settings.admin_token,
    )
    return _Driver(compiled, inputs, list(hooks), services, stop, recovered).run()


@dataclass
class _Submission:
    """One submitted attempt of a node and the ObjectRefs it will fill."""

    node_id: str
    status: ray.ObjectRef  # resolves to AttemptInfo's wire form, or raises the error
    outputs: dict[str, ray.ObjectRef]
    attempt: AttemptRecord


class _Driver(BranchSteps):
    def __init__(self, compiled: CompiledWorkflow, inputs: dict[str, Any],
                 hooks: list[ExecutionHooks], services: NodeServices,
                 stop: Callable[[], str | None] | None = None,
                 recovered: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.compiled = compiled
        self.services = services
        self.storage = services.storage
        self.spec = compiled.spec
        self.inputs = inputs
        self.hooks = hooks
        self.order = topological_order(self.spec)
        self.position = {n: i for i, n in enumerate(self.order)}
        self.nodes = {n.id: n for n in self.spec.nodes}
        self.upstream = {n.id: n.upstream() for n in self.spec.nodes}
        self.children: dict[str, list[str]] = {n.id: [] for n in self.spec.nodes}
        for node_id, ups in self.upstream.items():
            for u in ups:
                self.children[u].append(node_id)
        # Upstream nodes of each node that have not succeeded yet: it runs at zero.
        self.unmet = {node_id: len(ups) for node_id, ups in self.upstream.items()}
        self.record = ExecutionRecord(
            name="f" + uuid.uuid4().hex[:19],
            workflow=self.spec.id.name,
            nodes={n.id: NodeRecord(n.id, n.task or f"conditional '{n.branch.name}'"
                                    if n.branch else n.task) for n in self.spec.nodes},
        )
        parent = current_node()  # set where a node runs a sub-DAG (dynamic, launch plan)
        if parent is not None:
            self.record.parent = f"{parent[0].execution_id}/{parent[0].node_id}"
        # Conditionals: the arm gating each node, the arm each decided branch took (None:
        # no arm), the outputs of decided branches (their taken arm's), nodes to submit.
        self.gate = gates(self.spec)
        # Nodes with .with_overrides(...): their task with the overrides applied.
        self.overridden: dict[str, TaskLike] = {
            n.id: OverriddenTask(compiled.tasks[n.task], n.overrides)
            for n in self.spec.nodes if n.overrides is not None
        }
        self.decided: dict[str, int | None] = {}
        self.aliases: dict[str, dict[str, ray.ObjectRef]] = {}
        self.unsubmitted = list(self.order)
        self.current: dict[str, _Submission] = {}
        self.pending: dict[ray.ObjectRef, _Submission] = {}
        self.ready_since: dict[str, float] = {}  # monotonic time all upstream succeeded
        self.input_refs: dict[str, ray.ObjectRef] = {}
        self.task_boxes: dict[str, list[ray.ObjectRef]] = {}
        self.base_params: dict[str, ExecutionParameters] = {}
        self.remotes: dict[str, Any] = {}
        # Nodes failed for good, under FAIL_AFTER_EXECUTABLE_NODES_COMPLETE.
        self.failures: list[NodeFailedError] = []
        # --- remote executions only (serve.driver.actor); local runs leave these empty ---
        # Asked between batches of outcomes: a cause once the execution must stop.
        self.stop = stop
        # Hooks that want each succeeded node's output values before it is SUCCEEDED.
        self.output_hooks = [h for h in hooks if h.wants_outputs]
        # Outputs of nodes taken from an earlier execution instead of being run.
        self.recovered = recoverable(self.spec, recovered, inputs) if recovered else {}

    # --- phases of the run ---------------------------------------------------------

    def run(self) -> ExecutionResult:
        self._check_feasible()
        self._check_store()
        self.inputs = self._upload_inputs()
        self.record.start()
        for h in self.hooks:
            h.on_execution_start(self.record)
        self.input_refs = {k: ray.put(v) for k, v in self.inputs.items()}
        self.task_boxes = {name: self._unit(name, t, name)
                           for name, t in self.compiled.tasks.items()}
        for node_id, task in self.overridden.items():
            self.task_boxes[node_id] = self._unit(node_id, task, self.nodes[node_id].task)
        try:
            self._recover()
            self._advance()
            while self.pending:
                ended = self._wait()
                try:  # one call for the whole batch; one by one when any attempt failed
                    wires = ray.get([sub.status for sub in ended])
                except RayError:
                    wires = [None] * len(ended)
                for sub, wire in zip(ended, wires, strict=True):
                    self._handle(sub, wire)
                self._check_stop()
                self._advance()
            for node_id in self.unsubmitted:  # below a conditional arm that was not taken
                self._set_phase(node_id, NodePhase.SKIPPED)
            if self.failures:
                raise self.failures[0]
            outputs = self._outputs()
        except BaseException as e:
            self._stop(e)
            raise
        self.record.finish(ExecutionPhase.SUCCEEDED)
        for h in self.hooks:
            h.on_execution_end(self.record)
        return ExecutionResult(self.record, outputs)

    def _check_feasible(self) -> None:
        nodes = cluster_nodes()
        for node in self.spec.nodes:
            if node.branch is not None or local_nodes.stand_in(self.compiled.tasks[node.task]):
                continue  # a conditional, or a task a test mocked: nothing goes to Ray
            reason = infeasibility(ray_request(self._metadata(node.id)), nodes)
            if reason:
                message = (
                    f"workflow '{self.spec.id.name}': node '{node.id}' (task '{node.task}') "
                    f"can never run: {reason}; lower the task's requests or add a node that "
                    "has them"
                )
                attempt = self.record.begin_attempt(node.id, time.time())
                attempt.end, attempt.outcome = time.time(), NodePhase.FAILED
                attempt.error_kind, attempt.error = ErrorKind.USER, message
                self.record.set_phase(node.id, NodePhase.FAILED)
                self.record.finish(ExecutionPhase.FAILED, message, ErrorKind.USER)
                raise ResourceRequestError(message)

    def _check_store(self) -> None:
        """Fail before anything runs when files must be written and the store is unusable."""
        writers = [
            (node.id, v.name)
            for node in self.spec.nodes if node.branch is None
            for v in self.spec.tasks[node.task].interface.outputs
            if holds_blob(v.type)
        ]
        if not writers:
            return
        try:
            BlobStore(self.storage).check()
        except StorageError as e:
            node_id, output = writers[0]
            raise StorageError(
                f"workflow '{self.spec.id.name}': node '{node_id}' writes output '{output}' "
                f"to the blob store, which is not usable: {e}"
            ) from e

    def _upload_inputs(self) -> dict[str, Any]:
        """Local files given as workflow inputs are uploaded, so any node can read them."""
        iface = self.compiled.python_interface
        ctx = DataContext(BlobStore(self.storage),
                          BlobStore(self.storage).uri("raw", self.record.name, "inputs"))
        return {
            name: TypeEngine.from_task_output(
                value, iface.inputs[name], ctx,
                f"workflow '{self.spec.id.name}', input '{name}'")
            for name, value in self.inputs.items()
        }

    def _submit(self, node_id: str) -> None:
        """Submit an attempt of ``node_id`` wired to the current upstream attempts."""
        node = self.nodes[node_id]
        task = self._task(node_id)
        nrec = self.record.nodes[node_id]
        if nrec.attempts and nrec.attempts[-1].outcome is None:
            nrec.attempts.pop()  # resubmitted because an upstream node is retried
        attempt = self.record.begin_attempt(node_id, time.time())
        refs: list[ray.ObjectRef] = []
        template = {
            name: self._template(b, task.python_interface.inputs[name], refs)
            for name, b in node.inputs
        }
        # Nodes ordered before this one with '>>': their status refs are passed too (and
        # ignored by the worker) so that Ray starts this node only after them.
        refs.extend(self.current[u].status for u in node.extra_upstream if u in self.current)
        unit = node_id if node_id in self.overridden else node.task
        mock = local_nodes.stand_in(self.compiled.tasks[node.task])  # engine.testing's
        if mock is not None:  # runs here, in the process whose test set the mock
            params = dataclasses.replace(self.base_params[unit], node_id=node_id,
                                         attempt_number=attempt.attempt - 1)
            returned = local_nodes.submit(task, mock, template, params, self.services, refs)
        else:
            call = (f"{self.record.name}/{unit}", _compact(template), node_id,
                    attempt.attempt - 1)
            returned = self._remote(unit).remote(self.task_boxes[unit], call, *refs)
        names = list(task.python_interface.outputs)
        if names:
            *outs, status = returned
        else:
            outs, status = [], returned
        previous = self.current.get(node_id)
        if previous is not None:
            self.pending.pop(previous.status, None)
        sub = _Submission(node_id, status, dict(zip(names, outs, strict=True)), attempt)
        self.current[node_id] = sub
        self.pending[status] = sub
        done = self.unmet[node_id] == 0
        self._set_phase(node_id, NodePhase.RUNNING if done else NodePhase.QUEUED)
        if done:
            self.ready_since[node_id] = time.monotonic()

    def _wait(self) -> list[_Submission]:
        """Every finished submission, at least one, upstream nodes first."""
        # Ray runs the DAG by itself (upstream outputs are ObjectRefs): the driver only
        # collects outcomes, in batches. Asking Ray about every attempt as it ends costs
        # the driver (which shares the CPUs with the workers) more than the nodes do.
        refs = list(self.pending)
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=POLL_S, fetch_local=False)
        while not ready:  # nothing ended yet: wait for the first (a timeout, for Ctrl-C)
            self._check_stop()
            ready, _ = ray.wait(refs, num_returns=1, timeout=1.0 if self.stop is None
                                else POLL_S, fetch_local=False)
        subs = [self.pending[r] for r in ready]
        return sorted(subs, key=lambda s: self.position[s.node_id])

    def _handle(self, sub: _Submission, wire: list[Any] | None = None) -> None:
        """Record how an attempt ended (``wire``: its status, when already fetched)."""
        if self.current.get(sub.node_id) is not sub or self.pending.pop(sub.status, None) is None:
            return  # superseded (an upstream retry resubmitted it) or skipped meanwhile
        attempt = sub.attempt
        try:
            info = AttemptInfo.from_wire(wire if wire is not None else ray.get(sub.status))
        except RayTaskError as e:
            cause = e.cause
            if isinstance(cause, AttemptError):
                record_failure(attempt, cause)
                nrec = self.record.nodes[sub.node_id]
                nrec.children = nodes_from_rows(cause.children)
                nrec.child_execution = cause.child_execution
                budget = RECOVERABLE_RETRIES if cause.recoverable else 0
                self._failed(sub, attempt.outcome or NodePhase.FAILED, cause.kind,
                             cause.message, budget)
            else:
                attempt.end = time.time()
                self._failed(sub, NodePhase.FAILED, ErrorKind.SYSTEM, str(e))
            return
        except RayError as e:
            attempt.end = time.time()
            outcome, message = NodePhase.FAILED, f"{type(e).__name__}: {e}"
            timeout_s = self._metadata(sub.node_id).timeout_s
            since = self.ready_since.get(sub.node_id)
            if timeout_s and since is not None and time.monotonic() - since >= timeout_s:
                outcome = NodePhase.TIMED_OUT
                message = (f"the attempt ran past its timeout of {timeout_s:g} s and its "
                           f"worker was killed ({type(e).__name__})")
            self._failed(sub, outcome, ErrorKind.USER if outcome is NodePhase.TIMED_OUT
                         else ErrorKind.SYSTEM, message)
            return
        record_success(attempt, info)
        nrec = self.record.nodes[sub.node_id]
        nrec.children = nodes_from_rows(info.children)
        nrec.child_execution = info.child_execution
        if self.output_hooks:  # remote executions: outputs are stored before SUCCEEDED
            self._report_outputs(sub, nrec)
        self._attempt_end(sub.node_id, attempt)
        self._set_phase(sub.node_id, NodePhase.SUCCEEDED)
        now = time.monotonic()
        for child in self.children[sub.node_id]:
            if self.record.nodes[child].phase.terminal or child not in self.current:
                continue  # done, or not submitted yet (in an arm not decided yet)
            if self.unmet[child] == 0:
                self.ready_since[child] = now
                self._set_phase(child, NodePhase.RUNNING)

    def _failed(self, sub: _Submission, outcome: NodePhase, kind: ErrorKind, message: str,
                extra_retries: int = 0) -> None:
        """Retry the node if it has retries left (``extra_retries`` beyond the task's, for
        a FlyteRecoverableException), else fail it."""
        attempt = sub.attempt
        attempt.outcome, attempt.error_kind, attempt.error = outcome, kind, message
        self._attempt_end(sub.node_id, attempt)
        node = self.nodes[sub.node_id]
        retries = self._metadata(node.id).retries + extra_retries
        if attempt.attempt <= retries:
            for node_id in [sub.node_id, *downstream_of(self.spec, sub.node_id)]:
                if node_id in self.aliases:
                    self._alias(node_id)
                elif node_id in self.current:
                    self._submit(node_id)
            return
        self._set_phase(sub.node_id, outcome)
        failure = NodeFailedError(
            self.spec.id.name, sub.node_id, node.task, attempt.attempt, kind, message
        )
        policy = self.spec.failure_policy
        if policy is not WorkflowFailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE:
            raise failure
        # Let every node that does not depend on the failed one run to its end.
        self.failures.append(failure)
        for node_id in downstream_of(self.spec, sub.node_id):
            skipped = self.current.get(node_id)
            if skipped is not None and self.pending.pop(skipped.status, None) is not None:
                with contextlib.suppress(RayError, ValueError, TypeError):
                    ray.cancel(skipped.status)
                self.record.nodes[node_id].attempts.remove(skipped.attempt)
            self._set_phase(node_id, NodePhase.SKIPPED)

    def _stop(self, error: BaseException) -> None:
        """Cancel what is still pending and close the record after a failure."""
        for sub in list(self.pending.values()):
            # Only attempts that may be running are stopped. A node still waiting for its
            # inputs never starts once an input failed, and force-cancelling it can kill
            # the worker that has meanwhile taken other work.
            if self.record.nodes[sub.node_id].phase is not NodePhase.RUNNING:
                continue
            # Finished or not cancellable any more: then there is nothing to stop.
            with contextlib.suppress(RayError, ValueError, TypeError):
                ray.cancel(sub.status, force=True)
        failed = [n for n, r in self.record.nodes.items()
                  if r.phase in (NodePhase.FAILED, NodePhase.TIMED_OUT)]
        skipped = {d for f in failed for d in downstream_of(self.spec, f)}
        for node_id, nrec in self.record.nodes.items():
            if not nrec.phase.terminal:
                if nrec.attempts and nrec.attempts[-1].outcome is None:
                    nrec.attempts.pop()
                self._set_phase(node_id, NodePhase.SKIPPED if node_id in skipped
                                else NodePhase.ABORTED)
        self.pending.clear()
        if isinstance(error, NodeFailedError) and self.spec.on_failure is not None:
            self._run_on_failure(self.spec.on_failure, error)
        if isinstance(error, ExecutionAbortedError):
            self.record.finish(ExecutionPhase.ABORTED, error.cause)
        elif isinstance(error, ExecutionError):
            kind = getattr(error, "kind", ErrorKind.SYSTEM)
            self.record.finish(ExecutionPhase.FAILED, str(error), kind)
        elif isinstance(error, KeyboardInterrupt):
            self.record.finish(ExecutionPhase.ABORTED, "interrupted by the user")
        else:
            self.record.finish(ExecutionPhase.FAILED, f"{type(error).__name__}: {error}",
                               ErrorKind.SYSTEM)
        for h in self.hooks:
            h.on_execution_end(self.record)

    def _run_on_failure(self, node: Node, error: NodeFailedError) -> None:
        """Run the workflow's on_failure handler with the error; record how it went."""
        task = self.compiled.tasks[node.task]
        self.record.nodes[node.id] = NodeRecord(node.id, node.task)
        attempt = self.record.begin_attempt(node.id, time.time())
        refs: list[ray.ObjectRef] = []
        template = {name: self._template(b, task.python_interface.inputs[name], refs)
                    for name, b in node.inputs}
        if ON_FAILURE_ERROR in task.python_interface.inputs:
            template[ON_FAILURE_ERROR] = FlyteError(error.cause, error.node_id)
        call = (f"{self.record.name}/{node.task}", template, node.id, 0)
        returned = self._remote(node.task).remote(self.task_boxes[node.task], call, *refs)
        status = returned[-1] if task.python_interface.outputs else returned
        self._set_phase(node.id, NodePhase.RUNNING)
        try:
            info = AttemptInfo.from_wire(ray.get(status))
        except RayError as e:
            cause = e.cause if isinstance(e, RayTaskError) else None
            attempt.end, attempt.outcome = time.time(), NodePhase.FAILED
            attempt.error_kind = cause.kind if isinstance(cause, AttemptError) else ErrorKind.SYSTEM
            attempt.error = cause.message if isinstance(cause, AttemptError) else str(e)
            self._set_phase(node.id, NodePhase.FAILED)
            return
        attempt.start, attempt.end, attempt.outcome = info.start, info.end, NodePhase.SUCCEEDED
        self._set_phase(node.id, NodePhase.SUCCEEDED)

    def _unit(self, unit: str, task: TaskLike, task_name: str) -> list[ray.ObjectRef]:
        """Put what every attempt of ``unit`` shares in the object store; a box for it."""
        params = ExecutionParameters(
            execution_id=self.record.name,
            execution_date=dt.datetime.fromtimestamp(self.record.started_at, dt.timezone.utc),
            task_name=task_name,
            secret_requests=task.spec().metadata.secrets,
        )
        self.base_params[unit] = params
        return [ray.put(NodeUnit(task, self.services, params))]

    def _set_phase(self, node_id: str, phase: NodePhase) -> None:
        nrec = self.record.nodes[node_id]
        if nrec.phase is phase and phase is not NodePhase.QUEUED:
            return
        if phase.has_outputs:  # phases never leave SUCCEEDED (or RECOVERED)
            for child in self.children.get(node_id, ()):
                self.unmet[child] -= 1
        self.record.set_phase(node_id, phase)
        for h in self.hooks:
            h.on_node_phase(self.record, nrec)

    # --- remote executions: stop requests, recovered nodes, durable outputs ----------

    def _check_stop(self) -> None:
        if self.stop is not None and (cause := self.stop()) is not None:
            raise ExecutionAbortedError(cause)

    def _recover(self) -> None:
        """Take nodes of an earlier execution: not run, outputs put in the object store."""
        for node_id, values in self.recovered.items():
            self.unsubmitted.remove(node_id)
            self.aliases[node_id] = {name: ray.put(v) for name, v in values.items()}
        self._decide_recovered(self.recovered)  # hooks see their arms once RECOVERED
        for node_id in self.recovered:
            self._set_phase(node_id, NodePhase.RECOVERED)

    def _report_outputs(self, sub: _Submission, nrec: NodeRecord) -> None:
        values = ray.get(list(sub.outputs.values())) if sub.outputs else []
        outputs = dict(zip(sub.outputs, values, strict=True))
        for h in self.output_hooks:
            h.on_node_outputs(self.record, nrec, outputs)

    def _attempt_end(self, node_id: str, attempt: AttemptRecord) -> None:
        for h in self.hooks:
            h.on_attempt_end(self.record, self.record.nodes[node_id], attempt)

    def _task(self, node_id: str) -> TaskLike:
        """What a node runs: its task, with the node's overrides if it has any."""
        return self.overridden.get(node_id) or self.compiled.tasks[self.nodes[node_id].task]

    def _metadata(self, node_id: str) -> TaskMetadata:
        return self._task(node_id).spec().metadata

    def _remote(self, unit: str) -> Any:
        """The Ray remote of a task (or of one overridden node), with its resources."""
        remote = self.remotes.get(unit)
        if remote is None:
            task = self.overridden.get(unit) or self.compiled.tasks[unit]
            overrides = self.nodes[unit].overrides if unit in self.overridden else None
            req = ray_request(task.spec().metadata)
            options: dict[str, Any] = {
                "num_cpus": req.num_cpus,
                "num_gpus": req.num_gpus,
                "num_returns": len(task.python_interface.outputs) + 1,
                "name": (overrides.name if overrides and overrides.name else task.name),
            }
            if req.memory:
                options["memory"] = req.memory
            remote = ray_execute_node.options(**options)
            self.remotes[unit] = remote
        return remote

    def _template(self, binding: Binding, py_type: Any, refs: list[ray.ObjectRef]) -> Any:
        """The value of a binding, ObjectRefs moved into ``refs`` and left as Slots."""
        if isinstance(binding, OutputRef):
            if binding.node_id == START_NODE:
                refs.append(self.input_refs[binding.var])
            else:
                refs.append(self._output_ref(binding.node_id, binding.var))
            return Slot(len(refs) - 1)
        if isinstance(binding, Constant):
            return TypeEngine.from_json(binding.value, py_type)
        if isinstance(binding, BindingList):
            item = container_item_type(py_type, list)
            return [self._template(b, item, refs) for b in binding.items]
        assert isinstance(binding, BindingMap)
        item = container_item_type(py_type, dict)
        return {k: self._template(b, item, refs) for k, b in binding.items}

    def _outputs(self) -> Any:
        refs: list[ray.ObjectRef] = []
        iface = self.compiled.python_interface
        templates = [self._template(b, iface.outputs[name], refs) for name, b in self.spec.outputs]
        values = ray.get(refs) if refs else []
        return iface.pack_outputs([fill(t, tuple(values)) for t in templates])


def _compact(template: dict[str, Any]) -> tuple[str, ...] | dict[str, Any]:
    """The input names alone when each input is the next ObjectRef, as most are."""
    if all(isinstance(t, Slot) and t.index == i for i, t in enumerate(template.values())):
        return tuple(template)
    return template
