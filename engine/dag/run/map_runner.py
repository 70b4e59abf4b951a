"""Running a map task: its elements in parallel Ray tasks, several elements per task.

The map node's own Ray task coordinates (it asks for no CPU); elements run in
batches with the mapped task's resources, so 1,000 tiny elements cost about ten
Ray tasks, not a thousand. Each element is one ``execute_node`` call and so
honours the task's retries, timeout and cache; a batch whose worker dies is
submitted again, up to the task's retries.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from typing import Any

import ray
from ray.exceptions import RayError

from engine.catalog.blob import BlobStore
from engine.config import load_settings
from engine.dag.run.cluster import ray_request
from engine.dag.run.context import ExecutionParameters, NodeServices, current_node
from engine.dag.run.image_env import runtime_env
from engine.dag.run.state import AttemptRecord, AttemptRow, NodePhase, NodeRow, attempt_row
from engine.dag.run.worker import (
    execute_node,
    record_failure,
    record_success,
    report_children,
    task_from,
)
from engine.dag.trace import TaskLike
from engine.errors import AttemptError, ErrorKind, MapTaskError, StorageError
from engine.logs.store import LogStore, attempt_log_uri

# Element result: [index, succeeded, output values or the last error message, attempts
# as rows]. Plain lists: Ray packs thousands of them far faster than objects.
Result = list[Any]


@ray.remote(max_retries=0, retry_exceptions=False)
def _run_batch(key: str, box: list[ray.ObjectRef], params: ExecutionParameters,
               services: NodeServices, elements: list[list[Any]], rerun: bool) -> list[Result]:
    task = task_from(key, box)
    return [_run_element(task, index, inputs, params, services, rerun)
            for index, inputs in elements]


def _run_element(task: TaskLike, index: int, inputs: dict[str, Any],
                 params: ExecutionParameters, services: NodeServices, rerun: bool) -> Result:
    """Run one element, retried as its task says; ``rerun``: it ran before (its map node
    or its batch is run again), and logs of its attempts may be stored already."""
    retries = task.spec().metadata.retries
    attempts: list[AttemptRow] = []
    error = ""
    for attempt in range(retries + 1):
        element = dataclasses.replace(params, node_id=f"{params.node_id}-{index}",
                                      attempt_number=attempt)
        if rerun:
            _clear_log(element, services)
        record = AttemptRecord(attempt + 1, time.time())
        try:
            values, info = execute_node(task, inputs, element, services)
        except AttemptError as e:
            record_failure(record, e)
            attempts.append(attempt_row(record))
            error = e.message
            continue
        record_success(record, info)
        attempts.append(attempt_row(record))
        return [index, True, values, attempts]
    return [index, False, error, attempts]


def _clear_log(element: ExecutionParameters, services: NodeServices) -> None:
    """Delete the log an earlier run of this element attempt stored (the new one is
    written from its start; stale chunks after it would read as its own)."""
    blobs = BlobStore(services.storage)
    uri = attempt_log_uri(blobs, element.execution_id, element.node_id,
                          element.attempt_number + 1)
    # A blob store that refuses is the log writer's to report; the element runs anyway.
    with contextlib.suppress(StorageError):
        LogStore(blobs).clear(uri)


def run_map(task: TaskLike, elements: list[dict[str, Any]], concurrency: int | None,
            min_success_ratio: float, where: str) -> list[list[Any] | None]:
    """Outputs of each element, in order (None for a failed element)."""
    node = current_node()
    if node is None or not ray.is_initialized():
        results = _run_here(task, elements)
    else:
        results = _run_on_ray(task, elements, concurrency, *node)
    results.sort(key=lambda r: r[0])
    if node is not None:
        report_children(_element_rows(task, node[0].node_id, results))
    failed = [r for r in results if not r[1]]
    if failed and len(elements) and (len(elements) - len(failed)) / len(elements) < \
            min_success_ratio:
        index, _, message, _ = failed[0]
        raise MapTaskError(
            f"{where}: {len(failed)} of {len(elements)} elements failed, more than "
            f"min_success_ratio={min_success_ratio:g} allows; element {index} failed with:\n"
            f"{message}"
        )
    return [values if ok else None for _, ok, values, _ in results]


def _element_rows(task: TaskLike, node_id: str, results: list[Result]) -> list[NodeRow]:
    """One child record per element, keyed by its index, as rows."""
    rows: list[NodeRow] = []
    for index, ok, _, attempts in results:
        last = attempts[-1][3] if attempts else None
        phase = NodePhase.SUCCEEDED.value if ok else (last or NodePhase.FAILED.value)
        rows.append([str(index), f"{node_id}-{index}", task.name, phase, attempts, None, []])
    return rows


def _run_here(task: TaskLike, elements: list[dict[str, Any]]) -> list[Result]:
    """In-process, as a task called outside a workflow: one element after another."""
    results: list[Result] = []
    retries = task.spec().metadata.retries
    for index, inputs in enumerate(elements):
        error = ""
        attempts: list[AttemptRow] = []
        for attempt in range(retries + 1):
            record = AttemptRecord(attempt + 1, time.time())
            try:
                values = task.run_function(inputs)
            except Exception as e:  # the user's code: any failure counts for the element
                error = f"{type(e).__name__}: {e}"
                record.end, record.outcome = time.time(), NodePhase.FAILED
                record.error_kind, record.error = ErrorKind.USER, error
                attempts.append(attempt_row(record))
                continue
            record.end, record.outcome = time.time(), NodePhase.SUCCEEDED
            attempts.append(attempt_row(record))
            results.append([index, True, values, attempts])
            break
        else:
            results.append([index, False, error, attempts])
    return results


def _run_on_ray(task: TaskLike, elements: list[dict[str, Any]], concurrency: int | None,
                params: ExecutionParameters, services: NodeServices) -> list[Result]:
    n = len(elements)
    cpus = max(1.0, float(ray.cluster_resources().get("CPU", 1.0)))
    size = max(1, math.ceil(n / (4 * cpus)))  # a few batches per CPU, for balance
    if concurrency:
        size = min(size, concurrency)
    indexed = [[i, e] for i, e in enumerate(elements)]
    batches = [indexed[i:i + size] for i in range(0, n, size)]
    in_flight_max = max(1, concurrency // size) if concurrency else len(batches)
    metadata = task.spec().metadata
    req = ray_request(metadata)
    options: dict[str, Any] = {"num_cpus": req.num_cpus, "num_gpus": req.num_gpus,
                               "name": f"{task.name}[map]"}
    if req.memory:
        options["memory"] = req.memory
    env = runtime_env(metadata.image_spec, f"task '{task.name}'")
    if env is not None:
        options["runtime_env"] = env
    remote = _run_batch.options(**options)
    key = f"{params.execution_id}/{task.name}"
    box = [ray.put(task)]
    system_retries: int | None = None  # read from the settings once a batch is lost
    todo = list(range(len(batches)))
    tries = [0] * len(batches)
    running: dict[ray.ObjectRef, int] = {}
    results: list[Result] = []
    while todo or running:
        while todo and len(running) < in_flight_max:
            b = todo.pop(0)
            tries[b] += 1
            rerun = params.attempt_number > 0 or tries[b] > 1
            running[remote.remote(key, box, params, services, batches[b], rerun)] = b
        done, _ = ray.wait(list(running), num_returns=1)
        for ref in done:
            b = running.pop(ref)
            try:
                results.extend(ray.get(ref))
            except RayError as e:  # the batch's worker died: a system failure
                if system_retries is None:
                    # The settings where the map node runs: the driver's do not travel
                    # with the node (nor does any setting but its services').
                    system_retries = load_settings().max_system_retries
                if tries[b] <= system_retries:
                    todo.append(b)
                else:
                    message = (f"SYSTEM: {type(e).__name__}: {e}\nIts batch of elements "
                               f"was lost with its worker on try {tries[b]} of "
                               f"{system_retries + 1}: the system retries are spent "
                               f"(max_system_retries={system_retries}).")
                    now = time.time()
                    lost = attempt_row(AttemptRecord(tries[b], now, now, NodePhase.FAILED,
                                                     ErrorKind.SYSTEM, message))
                    results.extend([i, False, message, [lost]] for i, _ in batches[b])
    return results
