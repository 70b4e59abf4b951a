"""Executions written straight into an admin store, as a driver would write them, for the
console's tests and benchmarks (no Ray runs anything).

``register`` stores a real compiled workflow (and its tasks); ``seed_execution`` creates
an execution of it and writes its nodes, attempts, map children and end through the
same store methods a driver uses (``create_execution``, ``claim_driver``,
``record_events``, ``finish_execution``). ``seed_small``, ``seed_big`` and ``seed_tree``
build the executions the tests name: a failed five-task pipeline with a retried task, a
10,000-element map beside a 2,000-node fan-out, and a node of every kind the node tree
nests.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from engine import map_task, task, workflow
from engine.catalog.blob import BlobStore
from engine.core.workflow import PythonFunctionWorkflow
from engine.dag.run.state import ExecutionPhase, NodePhase, NodeRow
from engine.dag.spec import Identifier, WorkflowSpec
from engine.logs.lines import Masker, format_lines
from engine.logs.store import attempt_log_uri
from engine.logs.writer import LogWriter
from serve.store import AdminStore
from serve.store.execution_records import (
    AttemptEvent,
    ErrorInfo,
    ExecutionId,
    ExecutionRequest,
    ExecutionStarted,
    NodeAttempt,
    NodeEvent,
    TargetKind,
)
from tests.serve.specs import DOMAIN, PROJECT, closure_tasks

# --- the workflows seeded (compiled for real; never run here) ---------------------------


@task
def load(n: int) -> list[int]:
    return list(range(n))


@task(retries=2)
def clean(xs: list[int]) -> list[int]:
    return [x for x in xs if x >= 0]


@task(retries=0, timeout=600)
def train(xs: list[int]) -> float:
    raise ValueError("boom")


@task
def evaluate(xs: list[int]) -> float:
    return float(sum(xs))


@task
def report(model: float, score: float) -> str:
    return f"{model} {score}"


@workflow
def pipeline(n: int = 3) -> str:
    """Five tasks: load -> clean -> (train, evaluate) -> report."""
    xs = clean(xs=load(n=n))
    return report(model=train(xs=xs), score=evaluate(xs=xs))


@task
def square(x: int) -> int:
    return x * x


@task
def noop(i: int) -> int:
    return i


@task
def total(xs: list[int]) -> int:
    return sum(xs)


@task
def add(a: int, b: int) -> int:
    return a + b


FAN_OUT = 2000
CHAIN = 600


@workflow
def big(xs: list[int]) -> int:
    """A map over ``xs`` (10,000 elements when seeded) beside a 2,000-node fan-out."""
    mapped = map_task(square)(x=xs)
    fanned = [noop(i=i) for i in range(FAN_OUT)]
    return add(a=total(xs=mapped), b=total(xs=fanned))


@workflow
def chain(x: int) -> int:
    """600 nodes one after the other: too many boxes to draw as SVG, none alike."""
    for _ in range(CHAIN):
        x = add(a=x, b=1)
    return x


@workflow
def inner(x: int) -> int:
    """Two tasks: inlined where ``tree`` calls it, as nodes ``<prefix>-n0``, ``-n1``."""
    return add(a=square(x=x), b=1)


@workflow
def tree(xs: list[int], x: int) -> int:
    """A node of every kind the node tree nests: a map (n0), a task that ran nodes inside
    itself when seeded, as a dynamic node does (n1), a sub-workflow (n2-n0, n2-n1), and a
    task that launched a child execution when seeded, as a reference node does (n3)."""
    mapped = map_task(square)(x=xs)
    ran = total(xs=xs)
    sub = inner(x=x)
    launched = noop(i=ran)
    return add(a=add(a=total(xs=mapped), b=sub), b=launched)


# --- writing them -------------------------------------------------------------------------

_BATCH = 200
# One attempt: (outcome, start, end, error); start and end are seconds after the
# execution's start (``started_at`` of seed_execution); outcome None: still running.
Attempt = tuple[NodePhase | None, float, float | None, str | None]

TRACEBACK = ("Traceback (most recent call last):\n"
             '  File "tests/console/seed.py", line 52, in train\n'
             '    raise ValueError("boom")\n'
             "ValueError: boom")


def register(store: AdminStore, wf: PythonFunctionWorkflow | WorkflowSpec) -> Identifier:
    """Register ``wf`` (its tasks first) in its project, creating the project if need be;
    returns the workflow's identifier."""
    spec = wf if isinstance(wf, WorkflowSpec) else wf.compile().spec
    store.ensure_project(spec.id.project, (spec.id.domain,))
    tasks = (closure_tasks(wf) if isinstance(wf, PythonFunctionWorkflow) else
             [t for t in spec.tasks.values()
              if t.id.resource_type.value == "task" and t.reference is None])
    for task_spec in tasks:
        store.register_task(task_spec)
    store.register_workflow(spec)
    return spec.id


@dataclass(frozen=True)
class Seeded:
    """What ``seed_execution`` wrote: the execution and its driver's incarnation (to
    write more events, as a running driver would)."""

    id: ExecutionId
    incarnation: int
    started_at: float


def seed_execution(store: AdminStore, workflow: Identifier, name: str, *,
                   phase: ExecutionPhase = ExecutionPhase.SUCCEEDED,
                   **options: Any) -> ExecutionId:
    """Create execution ``name`` of ``workflow``, write it as its driver would, end it
    in ``phase``; ``options`` as for ``seed_running``. Returns the execution's id."""
    return seed_running(store, workflow, name, phase=phase, **options).id


def seed_running(store: AdminStore, workflow: Identifier, name: str, *,
                 nodes: Mapping[str, NodePhase],
                 attempts: Mapping[str, Sequence[Attempt]] | None = None,
                 phase: ExecutionPhase = ExecutionPhase.RUNNING,
                 error: str | None = None, error_kind: str = "USER",
                 children: Mapping[str, Mapping[str, NodePhase]] | None = None,
                 inputs: Mapping[str, Any] | None = None,
                 node_inputs: Mapping[str, dict[str, Any]] | None = None,
                 node_outputs: Mapping[str, dict[str, Any]] | None = None,
                 cache: Mapping[str, str] | None = None,
                 logs: Mapping[str, str | None] | None = None, blobs: BlobStore | None = None,
                 started_at: float | None = None) -> Seeded:
    """Create execution ``name`` of ``workflow`` and write it as its driver would; returns
    it with its driver's incarnation (for a RUNNING one that a test moves on with
    ``store.record_events``).

    ``nodes``: node id -> phase (nodes left out were never reached); ``attempts``: node
    id -> its attempts in order (see ``Attempt``; a node without any gets one attempt
    matching its phase, a second long); ``children``: a map (or dynamic) node's children,
    key -> phase, each with one attempt; ``node_inputs``/``node_outputs``: stored forms
    (``{"inline": ...}``); ``cache``: node id -> cache status of its last attempt;
    ``logs``: node id -> what its last attempt printed, written as its log into ``blobs``
    (None: its log is there already, at ``attempt_log_uri``).
    ``phase`` is the execution's end (QUEUED or RUNNING: left running); ``error`` its
    message, of ``error_kind``.
    """
    ident = ExecutionId(workflow.project, workflow.domain, name)
    request = ExecutionRequest(ident.project, ident.domain, name, TargetKind.WORKFLOW,
                               workflow.name, workflow.version, inputs=dict(inputs or {}))
    _, _, tickets = store.create_execution(request)
    launch = next(t.launch for t in tickets if t.execution == ident)
    claim = store.claim_driver(ident, launch)
    assert claim is not None and claim.workflow_spec is not None
    spec = WorkflowSpec.from_dict(claim.workflow_spec)
    t0 = time.time() - 120 if started_at is None else started_at
    position = {n.id: i for i, n in enumerate(spec.nodes)}
    task_of = {n.id: n.task for n in spec.nodes}
    events: list[Any] = [ExecutionStarted()]
    for node_id, node_phase in nodes.items():
        tried = list((attempts or {}).get(node_id, ())) or _default_attempts(node_phase)
        records = [_attempt(i + 1, a, t0, (cache or {}).get(node_id) if i == len(tried) - 1
                            else None) for i, a in enumerate(tried)]
        if node_id in (logs or {}) and records:
            assert blobs is not None, "logs need the blob store to write them to"
            printed, number = (logs or {})[node_id], records[-1].attempt
            uri = (write_log(blobs, ident, node_id, number, printed) if printed is not None
                   else attempt_log_uri(blobs, name, node_id, number))
            records[-1] = replace(records[-1], log_uri=uri)
        last_error = records[-1].error if records else None
        kids = (children or {}).get(node_id)
        events.append(NodeEvent(
            node_id, task_of[node_id], position[node_id], node_phase,
            error_kind=error_kind if node_phase is NodePhase.FAILED else None,
            error=last_error if node_phase is NodePhase.FAILED else None,
            children=_child_rows(task_of[node_id], kids, t0) if kids is not None else None,
            inputs=(node_inputs or {}).get(node_id),
            outputs=(node_outputs or {}).get(node_id)))
        events.extend(AttemptEvent(node_id, r) for r in records)
    for i in range(0, len(events), _BATCH):  # small transactions write faster
        store.record_events(ident, claim.incarnation, events[i:i + _BATCH])
    if phase not in (ExecutionPhase.QUEUED, ExecutionPhase.RUNNING):
        store.finish_execution(ident, claim.incarnation, phase,
                               ErrorInfo(error_kind, error) if error is not None else None)
    return Seeded(ident, claim.incarnation, t0)


def write_log(blobs: BlobStore, ident: ExecutionId, node_id: str, attempt: int,
              text: str) -> str:
    """Write ``text`` as the whole (ended) log of an attempt, as a worker would; returns
    its URI."""
    uri = attempt_log_uri(blobs, ident.name, node_id, attempt)
    writer = LogWriter(blobs, uri)
    writer.append(format_lines("OUT", text, time.time(), Masker(())))
    writer.close()
    return uri


def _default_attempts(phase: NodePhase) -> list[Attempt]:
    if phase in (NodePhase.QUEUED, NodePhase.SKIPPED, NodePhase.RECOVERED):
        return []
    if phase in (NodePhase.RUNNING, NodePhase.WAITING):
        return [(None, 1.0, None, None)]
    return [(phase if phase is not NodePhase.ABORTED else NodePhase.FAILED, 1.0, 2.0,
             None)]


def _attempt(number: int, attempt: Attempt, t0: float, cache: str | None) -> NodeAttempt:
    outcome, start, end, error = attempt
    kind = "USER" if error is not None else None
    return NodeAttempt(number, t0 + start, t0 + end if end is not None else None, outcome,
                       kind, error, cache,
                       {"node_ip": "10.0.0.7", "node_id": "a1b2c3", "pid": 4242 + number})


def _child_rows(task_name: str, kids: Mapping[str, NodePhase], t0: float) -> list[NodeRow]:
    rows: list[NodeRow] = []
    for i, (key, phase) in enumerate(kids.items()):
        start = 1.0 + (i % 100) * 0.01
        done = phase.terminal
        rows.append([key, key, task_name, phase.value,
                     [[1, t0 + start, t0 + start + 0.5 if done else None,
                       phase.value if done else None, None, None, None, {}]], None, []])
    return rows


# --- the executions the tests name ---------------------------------------------------------


def seed_small(store: AdminStore, name: str = "small",
               blobs: BlobStore | None = None) -> ExecutionId:
    """The five-task pipeline, FAILED: ``clean`` (n1) failed twice then succeeded,
    ``train`` (n2) raised ValueError("boom") (a USER error), ``report`` (n4) never ran.
    With ``blobs``, ``train`` printed "training on 3 rows" in its log there."""
    wf = register(store, pipeline)
    return seed_execution(
        store, wf, name, phase=ExecutionPhase.FAILED, inputs={"n": 3},
        error=("workflow 'tests.console.seed.pipeline' failed: node 'n2' (task "
               f"'tests.console.seed.train') failed after 1 attempt with a USER error:\n"
               f"{TRACEBACK}"),
        nodes={"n0": NodePhase.SUCCEEDED, "n1": NodePhase.SUCCEEDED,
               "n2": NodePhase.FAILED, "n3": NodePhase.SUCCEEDED, "n4": NodePhase.SKIPPED},
        attempts={"n0": [(NodePhase.SUCCEEDED, 0.0, 1.0, None)],
                  "n1": [(NodePhase.FAILED, 1.0, 2.0, "ConnectionError: try again"),
                         (NodePhase.FAILED, 2.5, 3.5, "ConnectionError: try again"),
                         (NodePhase.SUCCEEDED, 4.0, 6.0, None)],
                  "n2": [(NodePhase.FAILED, 6.0, 9.0, TRACEBACK)],
                  "n3": [(NodePhase.SUCCEEDED, 6.0, 7.0, None)]},
        node_inputs={"n0": {"n": {"inline": 3}}, "n1": {"xs": {"inline": [0, 1, 2]}}},
        node_outputs={"n0": {"o0": {"inline": [0, 1, 2]}}, "n1": {"o0": {"inline": [0, 1, 2]}},
                      "n3": {"o0": {"inline": 3.0}}},
        cache={"n0": "DISABLED"}, blobs=blobs,
        logs={"n2": "training on 3 rows"} if blobs is not None else None)


MAP_SIZE = 10_000


def seed_big(store: AdminStore, name: str = "big",
             phase: ExecutionPhase = ExecutionPhase.RUNNING,
             logs: Mapping[str, str | None] | None = None,
             blobs: BlobStore | None = None) -> Seeded:
    """``big``: its map node (n0) ran 10,000 elements (one FAILED, a few running) and its
    2,000 fan-out nodes (n1..n2000) succeeded; ``phase`` RUNNING leaves it running;
    ``logs`` and ``blobs`` as for ``seed_execution``."""
    wf = register(store, big)
    kids = {str(i): NodePhase.SUCCEEDED for i in range(MAP_SIZE)}
    kids["17"] = NodePhase.FAILED
    for i in range(MAP_SIZE - 3, MAP_SIZE):
        kids[str(i)] = NodePhase.RUNNING
    nodes = {"n0": NodePhase.RUNNING,
             **{f"n{i}": NodePhase.SUCCEEDED for i in range(1, FAN_OUT + 1)}}
    return seed_running(store, wf, name, nodes=nodes, phase=phase, children={"n0": kids},
                        inputs={"xs": list(range(MAP_SIZE))}, logs=logs, blobs=blobs)


def seed_tree(store: AdminStore, name: str = "tree") -> ExecutionId:
    """``tree``, RUNNING, with one node of each kind and what the quick filters pick:

    - n0, the map, RUNNING: children 0 (SUCCEEDED, a cache HIT), 1 (RUNNING), 2;
    - n1 FAILED, its children n0 (SUCCEEDED) and n1 (FAILED), as a dynamic node's;
    - the sub-workflow n2: n2-n0 SUCCEEDED from the cache (HIT), n2-n1 RUNNING;
    - n3 SUCCEEDED, having launched execution ``<name>-child`` (a failed ``pipeline``).

    So failed keeps n1 (and its child n1), running n0 and n2 (children 1 and n2-n1),
    cached n0 and n2 (children 0 and n2-n0)."""
    child = seed_small(store, f"{name}-child")
    wf = register(store, tree)
    running = seed_running(
        store, wf, name, inputs={"xs": [0, 1, 2], "x": 1},
        nodes={"n2-n0": NodePhase.SUCCEEDED, "n2-n1": NodePhase.RUNNING},
        cache={"n2-n0": "HIT"})
    spec = WorkflowSpec.from_dict(store.get(wf).spec)
    position = {n.id: i for i, n in enumerate(spec.nodes)}
    task_of = {n.id: n.task for n in spec.nodes}
    t0 = running.started_at
    mapped = _child_rows(task_of["n0"], {
        "0": NodePhase.SUCCEEDED, "1": NodePhase.RUNNING, "2": NodePhase.SUCCEEDED}, t0)
    mapped[0][4][0][6] = "HIT"  # its attempt's cache status
    ran = _child_rows(task_of["n3"], {"n0": NodePhase.SUCCEEDED, "n1": NodePhase.FAILED}, t0)
    store.record_events(running.id, running.incarnation, [
        NodeEvent("n0", task_of["n0"], position["n0"], NodePhase.RUNNING, children=mapped),
        NodeEvent("n1", task_of["n1"], position["n1"], NodePhase.FAILED, error_kind="USER",
                  error="ValueError: a child failed", children=ran),
        NodeEvent("n3", task_of["n3"], position["n3"], NodePhase.SUCCEEDED,
                  child_execution=child.name),
        AttemptEvent("n0", _attempt(1, (None, 1.0, None, None), t0, None)),
        AttemptEvent("n1", _attempt(1, (NodePhase.FAILED, 1.0, 2.0, None), t0, None)),
        AttemptEvent("n3", _attempt(1, (NodePhase.SUCCEEDED, 1.0, 2.0, None), t0, None))])
    return running.id


__all__ = ["DOMAIN", "PROJECT", "Attempt", "Seeded", "register", "seed_big",
           "seed_execution", "seed_running", "seed_small", "seed_tree", "write_log"]
