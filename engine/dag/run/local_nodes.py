"""Nodes whose task has a stand-in (engine.testing's mocks), run in this process in place
of the task's body.

Which tasks have a stand-in, and their direct calls, are :mod:`engine.dag.run.stand_ins`
(no Ray there, as ``@task`` consults it); a node of any workflow this process drives
runs here instead (the executor's node calls use :func:`submit`). A node run here
resolves its inputs, runs the stand-in, and puts its outputs and an :class:`AttemptInfo`
into the object store, so the driver loop and downstream nodes see an ordinary node.
Nodes driven from a Ray worker (the sub-DAG of a ``@dynamic``, the tasks an ``@eager``
body awaits, map task elements) do not see stand-ins: they run the real task. Stand-ins
bypass the data catalog and are not stopped by the task's timeout.
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

import ray
from ray.exceptions import RayError, RayTaskError

from engine.catalog.blob import BlobStore
from engine.catalog.memo import CacheStatus
from engine.dag.run.context import ExecutionParameters, NodeServices, enter_context, exit_context
from engine.dag.run.stand_ins import StandIn, checked_outputs, stand_in, standing_in
from engine.dag.run.worker import AttemptInfo, attempt_prefix, fill, user_traceback
from engine.dag.trace import TaskLike
from engine.errors import AttemptError, ErrorKind
from engine.types.type_engine import DataContext, TypeEngine

# stand_in and standing_in are the runtime's and engine.testing's way in, as before the
# registry moved to stand_ins.
__all__ = ["stand_in", "standing_in", "submit"]


def submit(task: TaskLike, fn: StandIn, template: dict[str, Any], params: ExecutionParameters,
           services: NodeServices, refs: list[ray.ObjectRef]) -> Any:
    """Run one attempt of a node of ``task`` here, with ``fn`` for its body.

    Waits for the upstream ObjectRefs in ``refs``; returns ObjectRefs shaped as the Ray
    remote of a node returns them: one per output, then the status, which resolves to
    an :class:`AttemptInfo` or raises the :class:`AttemptError` of a failed attempt.
    """
    returns = len(task.python_interface.outputs) + 1
    try:
        values = tuple(ray.get(refs))
    except RayError as e:
        # An upstream node failed: this node's refs raise its error, as Ray makes those of
        # a task called on it raise; the driver handles the upstream failure first.
        return _failed(e, returns)
    start = time.time()
    try:
        outputs = _run(task, fn, fill(template, values), params, services)
    except Exception as e:  # the stand-in's exception fails the attempt, as user code's
        error = AttemptError(ErrorKind.USER, user_traceback(e), False, start, time.time())
        return _failed(RayTaskError(f"mock of task {task.name}", error.message, error), returns)
    status = ray.put(AttemptInfo(
        cache_status=CacheStatus.DISABLED, start=start, end=time.time(),
        node_ip=ray.util.get_node_ip_address(),
        node_id=ray.get_runtime_context().get_node_id(), pid=os.getpid(), gpu_ids=(),
        logged=False,  # a stand-in's output is not captured: the attempt has no log
    ).to_wire())
    outs = [ray.put(v) for v in outputs]
    return (*outs, status) if outs else status


def _failed(error: RayError, returns: int) -> Any:
    """ObjectRefs that raise ``error``: ``ray.get`` raises a RayError it finds stored, and a
    task given one as an argument fails with it. Nothing runs on Ray for them (so there
    is nothing for the driver to cancel)."""
    ref = ray.put(error)
    return (ref,) * returns if returns > 1 else ref


def _run(task: TaskLike, fn: StandIn, inputs: dict[str, Any], params: ExecutionParameters,
         services: NodeServices) -> list[Any]:
    """Inputs and outputs cross the task boundary as in a worker (files, dataframes)."""
    iface = task.python_interface
    ctx = DataContext(BlobStore(services.storage), attempt_prefix(services, params),
                      params.scratch_path)
    where = f"task '{task.name}', node '{params.node_id}'"
    ready = {**iface.defaults, **{
        name: TypeEngine.to_task_input(v, iface.inputs[name], ctx, f"{where}, input '{name}'")
        for name, v in inputs.items()
    }}
    token = enter_context(params)
    try:
        values = checked_outputs(task, fn, {n: ready[n] for n in iface.inputs if n in ready})
        return [
            TypeEngine.from_task_output(v, t, ctx, f"{where}, output '{name}'")
            for (name, t), v in zip(iface.outputs.items(), values, strict=True)
        ]
    finally:
        exit_context(token)
        shutil.rmtree(params.scratch_path, ignore_errors=True)
