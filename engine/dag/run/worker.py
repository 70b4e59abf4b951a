"""What runs inside a Ray worker: one attempt of one node.

:func:`execute_node` is a plain function (tests call it directly); the Ray
wrapper :func:`ray_execute_node` only resolves the task and the inputs around it.
Ray's own retries are off: the driver owns retries and counts every attempt.
"""

from __future__ import annotations

import collections
import contextvars
import dataclasses
import functools
import os
import shutil
import signal
import socket
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray
from ray import cloudpickle
from ray.experimental import internal_kv

from engine.catalog.blob import BlobStore
from engine.catalog.memo import CacheStatus, Producer, memoized
from engine.dag.run.context import (
    NODE,
    ExecutionParameters,
    NodeServices,
    enter_context,
    exit_context,
)
from engine.dag.run.secrets import SecretsManager, mounted
from engine.dag.run.state import AttemptRecord, NodePhase, NodeRecord, NodeRow, node_rows
from engine.dag.spec import PathKey, follow
from engine.dag.trace import TaskLike
from engine.deck.attempt import AttemptFacts, deck_uri, store_deck
from engine.deck.deck import collecting
from engine.errors import (
    AttemptError,
    CatalogError,
    ContainerRuntimeError,
    DataError,
    ErrorKind,
    ReferenceEntityError,
    StorageError,
)
from engine.exceptions.user import FlyteRecoverableException
from engine.logs.capture import AttemptLog, blob_store, capturing
from engine.logs.lines import masking
from engine.logs.store import attempt_log_uri
from engine.types.type_engine import DataContext, TypeEngine

_ENGINE_DIR = str(Path(__file__).resolve().parent.parent.parent)

# Seconds an attempt may run past its timeout before its worker process is killed,
# for user code blocked in C where the timeout signal cannot interrupt it.
TIMEOUT_GRACE_S = 5.0


@dataclass(frozen=True)
class Slot:
    """Placeholder in an input template for the i-th ObjectRef argument (for the part
    of its value ``path`` names, see :func:`engine.dag.spec.follow`)."""

    index: int
    path: tuple[PathKey, ...] = ()


@dataclass(frozen=True)
class AttemptInfo:
    """Returned next to a node's outputs: facts about the successful attempt."""

    cache_status: CacheStatus
    start: float
    end: float
    node_ip: str
    node_id: str  # Ray node id: tells nodes apart where they share an IP
    pid: int
    gpu_ids: tuple[Any, ...]
    # What the node ran inside itself (see NodeRecord.children), as rows.
    children: list[NodeRow] = field(default_factory=list)
    child_execution: str | None = None
    # The attempt's deck document in the blob store (tasks with enable_deck).
    deck_uri: str | None = None
    # Whether it logged a line: a quiet attempt stores no log (see engine.logs.capture).
    logged: bool = True
    # On a cache HIT: the run and node that computed the outputs.
    cache_source: Producer | None = None

    def to_wire(self) -> list[Any]:
        """As a list of plain values: Ray packs it without pickling, for every attempt."""
        source = self.cache_source
        return [self.cache_status.value, self.start, self.end, self.node_ip, self.node_id,
                self.pid, list(self.gpu_ids), self.children, self.child_execution,
                self.deck_uri, self.logged, [source.run, source.node_id] if source else None]

    @classmethod
    def from_wire(cls, wire: list[Any]) -> AttemptInfo:
        status, start, end, node_ip, node_id, pid, gpus, children, child, deck, logged, \
            source = wire
        return cls(CacheStatus(status), start, end, node_ip, node_id, pid, tuple(gpus),
                   children, child, deck, logged, Producer(*source) if source else None)


def record_success(attempt: AttemptRecord, info: AttemptInfo) -> None:
    """Fill ``attempt`` from the worker's report of a successful attempt."""
    attempt.start, attempt.end = info.start, info.end
    attempt.outcome = NodePhase.SUCCEEDED
    attempt.cache_status = info.cache_status.value
    attempt.deck_uri = info.deck_uri
    source = info.cache_source
    attempt.cache_source = {"run": source.run, "node_id": source.node_id} if source else None
    if not info.logged:  # it printed and logged nothing: there is no log to point at
        attempt.log_uri = None
    attempt.worker = {"node_ip": info.node_ip, "node_id": info.node_id, "pid": info.pid,
                      "gpu_ids": list(info.gpu_ids)}


def record_failure(attempt: AttemptRecord, error: AttemptError) -> None:
    """Fill ``attempt`` from the error a failed attempt raised."""
    attempt.start, attempt.end = error.start, error.end
    attempt.outcome = NodePhase.TIMED_OUT if error.timed_out else NodePhase.FAILED
    attempt.error_kind, attempt.error = error.kind, error.message


@dataclass
class _Children:
    """Filled by a node that runs nodes inside itself (see :func:`report_children`)."""

    nodes: list[NodeRow] = field(default_factory=list)
    execution: str | None = None


_CHILDREN: contextvars.ContextVar[_Children | None] = \
    contextvars.ContextVar("flyray_children", default=None)


def report_children(nodes: dict[str, NodeRecord] | list[NodeRow],
                    execution: str | None = None) -> None:
    """Record what the running node ran inside itself (records, or their rows); it
    shows in the node's record."""
    holder = _CHILDREN.get()
    if holder is not None:
        holder.nodes = node_rows(nodes) if isinstance(nodes, dict) else nodes
        holder.execution = execution


class _TimedOut(BaseException):
    """Raised in the task's thread when its timeout expires; a BaseException so that
    the user's ``except Exception`` cannot swallow it."""


def fill(template: Any, values: tuple[Any, ...]) -> Any:
    """Replace every :class:`Slot` in ``template`` by its resolved value."""
    if isinstance(template, Slot):
        return follow(values[template.index], template.path)
    if isinstance(template, list):
        return [fill(t, values) for t in template]
    if isinstance(template, dict):
        return {k: fill(t, values) for k, t in template.items()}
    return template


def _filled(template: dict[str, Any], values: tuple[Any, ...]) -> dict[str, Any]:
    """An attempt's inputs; one reading a part its value lacks (``out[3]`` of a shorter
    list) fails the attempt as the user's fault."""
    inputs = {}
    for name, t in template.items():
        try:
            inputs[name] = fill(t, values)
        except DataError as e:
            now = time.time()
            raise AttemptError(ErrorKind.USER, f"DataError: input '{name}' reads {e}", False,
                               now, now) from None
    return inputs


@contextmanager
def _deadline(timeout_s: float | None) -> Iterator[None]:
    """Interrupt the task after ``timeout_s``; kill the process if it does not stop."""
    if not timeout_s or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise _TimedOut()

    done = threading.Event()

    def watchdog() -> None:
        if not done.wait(timeout_s + TIMEOUT_GRACE_S):
            os._exit(70)  # the driver records this attempt as timed out

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    threading.Thread(target=watchdog, daemon=True, name="flyray-timeout").start()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        done.set()


@contextmanager
def _environment(env: tuple[tuple[str, str], ...]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k, _ in env}
    os.environ.update(dict(env))
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def user_traceback(exc: BaseException) -> str:
    """The exception with its traceback, leading engine frames removed."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_ENGINE_DIR):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb)).rstrip()


def attempt_prefix(services: NodeServices, params: ExecutionParameters) -> str:
    """Raw output prefix of one node attempt: where the files it returns are uploaded
    (under the services' raw-output prefix when set, else the blob store's ``raw/``)."""
    parts = (params.execution_id, params.node_id or "task", str(params.attempt_number))
    if services.raw_output_prefix:
        return "/".join((services.raw_output_prefix.rstrip("/"), *parts))
    return BlobStore(services.storage).uri("raw", *parts)


def _run_at_boundary(task: TaskLike, inputs: dict[str, Any], ctx: DataContext,
                     where: str, secrets: SecretsManager) -> list[Any]:
    """Prepare inputs (files fetched lazily, dataframe flavours), run with the task's
    secrets mounted, prepare outputs."""
    iface = task.python_interface
    ready = {
        name: TypeEngine.to_task_input(v, iface.inputs[name], ctx, f"{where}, input '{name}'")
        for name, v in inputs.items()
    }
    with mounted(secrets):
        values = task.run_function(ready)
    return [
        TypeEngine.from_task_output(v, t, ctx, f"{where}, output '{name}'")
        for (name, t), v in zip(iface.outputs.items(), values, strict=True)
    ]


def execute_node(
    task: TaskLike, inputs: dict[str, Any], params: ExecutionParameters,
    services: NodeServices,
) -> tuple[list[Any], AttemptInfo]:
    """Run one attempt of ``task`` (or take its outputs from the data catalog);
    raise :class:`AttemptError` when it fails."""
    node_token = NODE.set((params, services))
    children = _Children()
    children_token = _CHILDREN.set(children)
    try:
        # masking: the error is stored and shown, so no secret value may stay in it.
        with _logging(task, params, services) as log, collecting(params.decks), \
                masking(log.mask):
            values, info = _execute(task, inputs, params, services, log)
    except AttemptError as e:
        e.children, e.child_execution = children.nodes, children.execution
        raise
    finally:
        _CHILDREN.reset(children_token)
        NODE.reset(node_token)
    if children.nodes or children.execution:
        info = dataclasses.replace(info, children=children.nodes,
                                   child_execution=children.execution)
    return values, info


def _logging(task: TaskLike, params: ExecutionParameters,
             services: NodeServices) -> AbstractContextManager[AttemptLog]:
    """Capture the attempt's output to its log in the blob store (see engine.logs)."""
    attempt = params.attempt_number + 1
    uri = attempt_log_uri(blob_store(services.storage), params.execution_id, params.node_id,
                          attempt)
    header = (f"execution={params.execution_id} node={params.node_id} attempt={attempt} "
              f"task={task.name} host={_where()[0] or socket.gethostname()} pid={os.getpid()}")
    # Only a task that requested secrets reads them (to mask their values).
    return capturing(services.storage, uri, header,
                     params.secrets if params.secret_requests else None)


def _execute(
    task: TaskLike, inputs: dict[str, Any], params: ExecutionParameters,
    services: NodeServices, log: AttemptLog,
) -> tuple[list[Any], AttemptInfo]:
    spec = task.spec()
    timeout_s = spec.metadata.timeout_s
    start = time.time()
    token = enter_context(params)
    scratch = params.scratch_path
    try:
        if _is_plain(task):
            values, status, source = task.run_function(inputs), CacheStatus.DISABLED, None
        else:
            blobs = BlobStore(services.storage)
            ctx = DataContext(blobs, attempt_prefix(services, params), scratch)
            where, secrets = f"task '{task.name}', node '{params.node_id}'", params.secrets
            with _environment(spec.metadata.environment), _deadline(timeout_s):
                values, status, source = memoized(
                    task, inputs, lambda: _run_at_boundary(task, inputs, ctx, where, secrets),
                    settings=services.cache, blobs=blobs, execution=params.execution_id,
                    node_id=params.node_id,
                )
    except DataError as e:  # a value does not fit its declared type: the task's doing
        raise AttemptError(ErrorKind.USER, f"DataError: {e}", False, start, time.time()) from None
    except (StorageError, CatalogError, ContainerRuntimeError) as e:  # infrastructure failed
        raise AttemptError(ErrorKind.SYSTEM, f"{type(e).__name__}: {e}", False, start,
                           time.time()) from None
    except ReferenceEntityError as e:  # its kind is the admin's answer or the child's
        raise AttemptError(e.kind, f"{type(e).__name__}: {e}", False, start,
                           time.time()) from None
    except _TimedOut:
        raise AttemptError(
            ErrorKind.USER,
            f"task '{task.name}' was stopped: it ran longer than its timeout of {timeout_s:g} s",
            True, start, time.time(),
        ) from None
    except Exception as e:  # user code: any exception it raises fails the attempt
        error = AttemptError(ErrorKind.USER, user_traceback(e), False, start, time.time())
        error.recoverable = isinstance(e, FlyteRecoverableException)
        raise error from None
    finally:
        exit_context(token)
        # Files the task returned are uploaded by now; downloads were for this attempt.
        if os.path.lexists(scratch):
            shutil.rmtree(scratch, ignore_errors=True)
    if status is CacheStatus.HIT:
        log.note("cache HIT: the outputs were taken from the data catalog; the task did not run")
    node_ip, node_id = _where()
    end = time.time()
    info = AttemptInfo(
        cache_status=status,
        start=start,
        end=end,
        node_ip=node_ip,
        node_id=node_id,
        pid=os.getpid(),
        gpu_ids=tuple(ray.get_gpu_ids()) if node_id else (),
        deck_uri=_deck(task, inputs, values, params, services, start, end),
        logged=log.spoke,
        cache_source=source,
    )
    return values, info


def _deck(task: TaskLike, inputs: dict[str, Any], values: list[Any],
          params: ExecutionParameters, services: NodeServices, start: float,
          end: float) -> str | None:
    """Store the attempt's deck document when its task has enable_deck; its URI."""
    fields = task.spec().metadata.deck_fields
    if fields is None:
        return None
    blobs = BlobStore(services.storage)
    uri = deck_uri(blobs, params.execution_id, params.node_id, params.attempt_number + 1)
    iface = task.python_interface
    facts = AttemptFacts(getattr(task, "fn", None), iface.inputs, inputs, iface.outputs,
                         values, start, end)
    title = f"{task.name}: node {params.node_id}, attempt {params.attempt_number + 1}"
    try:
        store_deck(blobs, uri, title, fields, params.decks, facts)
    except StorageError as e:  # the task succeeded; the blob store did not take its deck
        raise AttemptError(ErrorKind.SYSTEM, f"StorageError: the deck: {e}", False, start,
                           end) from None
    return uri


# _is_plain's answers by task object (kept with the task, so an id is never reused).
_PLAIN: dict[int, tuple[TaskLike, bool]] = {}


def _is_plain(task: TaskLike) -> bool:
    """Whether a task needs nothing around its call: no cache, timeout, environment or
    mounted secrets, and no files or dataframes to convert at its boundary. Most tiny
    tasks; for them the setup would cost more than the call."""
    known = _PLAIN.get(id(task))
    if known is not None and known[0] is task:
        return known[1]
    metadata = task.spec().metadata
    types = [*task.python_interface.inputs.values(), *task.python_interface.outputs.values()]
    plain = not (metadata.cache or metadata.timeout_s or metadata.environment
                 or any(s.mount != "ANY" for s in metadata.secrets)
                 or any(TypeEngine.has_boundary(t) for t in types))
    if len(_PLAIN) >= _TASK_CACHE_SIZE:
        _PLAIN.clear()
    _PLAIN[id(task)] = (task, plain)
    return plain


@functools.lru_cache(maxsize=1)
def _cached_where() -> tuple[str, str]:
    return ray.util.get_node_ip_address(), ray.get_runtime_context().get_node_id()


def _where() -> tuple[str, str]:
    """IP and Ray node id of this process's node ("" outside Ray); a worker never moves."""
    return _cached_where() if ray.is_initialized() else ("", "")


# Tasks (or node units) already deserialized in this worker, by execution and task name.
_TASKS: collections.OrderedDict[str, Any] = collections.OrderedDict()
_TASK_CACHE_SIZE = 256


# The namespace of Ray's internal key-value store (in its GCS) where the driver of an
# execution publishes its node units (see NodeCalls), each under its key, while it runs.
UNITS_NAMESPACE = "flyray-units"


def _remember(key: str, task: Any) -> Any:
    _TASKS[key] = task
    while len(_TASKS) > _TASK_CACHE_SIZE:
        _TASKS.popitem(last=False)
    return task


def task_from(key: str, box: list[ray.ObjectRef]) -> Any:
    """The object in ``box`` (an ObjectRef in a list, unresolved by Ray), cached by ``key``."""
    task = _TASKS.get(key)
    return task if task is not None else _remember(key, ray.get(box[0]))


def unit_from(key: str) -> NodeUnit:
    """The node unit the driver published under ``key``, cached in this worker.

    Published, not passed: an ObjectRef in every call's arguments costs Ray a pickle and
    the tracking of a borrowed reference per attempt, more than a tiny node itself.
    """
    unit: NodeUnit | None = _TASKS.get(key)
    if unit is None:
        data = internal_kv._internal_kv_get(key, namespace=UNITS_NAMESPACE)
        if data is None:  # the driver withdrew it: its execution has ended
            raise RuntimeError(f"node unit '{key}' is not published (any more): the "
                               "execution that submitted this attempt has ended")
        unit = _remember(key, cloudpickle.loads(data))
    return unit


@dataclass(frozen=True)
class NodeUnit:
    """What every attempt of one task (or one overridden node) in one execution shares.

    The driver publishes it once (:func:`unit_from`); each attempt then sends only small
    plain values (Ray packs those without pickling), and each worker unpickles the unit
    once per execution.
    """

    task: TaskLike
    services: NodeServices
    # The execution's parameters for this task; node_id and attempt_number are per call.
    params: ExecutionParameters


# What one attempt sends besides the upstream values, in one list of plain values (Ray
# packs a list without pickling, but not a tuple; every further argument costs Ray time
# to pack): the unit's key (see unit_from), the inputs (their names, the i-th taking the
# i-th value, or a dict holding Slots), the node id and the attempt number (0 for the
# first).
Call = list[Any]


@ray.remote(max_retries=0, retry_exceptions=False)
def ray_execute_node(call: Call, *values: Any) -> Any:
    """The Ray task of one node attempt: returns the outputs, then an AttemptInfo (in its
    wire form).

    Values beyond the inputs' only order the node after others (``>>``).
    """
    unit_key, template, node_id, attempt_number = call
    unit = unit_from(unit_key)
    params = dataclasses.replace(unit.params, node_id=node_id, attempt_number=attempt_number)
    if isinstance(template, list):
        inputs = dict(zip(template, values[:len(template)], strict=True))
    else:
        inputs = _filled(template, values)
    outputs, info = execute_node(unit.task, inputs, params, unit.services)
    return (*outputs, info.to_wire()) if outputs else info.to_wire()
