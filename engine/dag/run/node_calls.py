"""How the attempts of one execution's nodes reach Ray: their inputs and their Ray calls.

An attempt's inputs travel as a *template*: the node's bindings with every value that
lives in the object store (a workflow input, an upstream output) left as a
:class:`Slot`, the index of an ObjectRef argument of the Ray call. Ray then starts the
attempt as soon as those values exist, and data never passes through the driver.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import ray
from ray import cloudpickle
from ray.experimental import internal_kv

from engine.dag.run import local_nodes
from engine.dag.run.cluster import ray_request
from engine.dag.run.context import ExecutionParameters, NodeServices
from engine.dag.run.image_env import runtime_env
from engine.dag.run.run_graph import RunGraph
from engine.dag.run.state import ExecutionRecord
from engine.dag.run.worker import UNITS_NAMESPACE, NodeUnit, Slot, ray_execute_node
from engine.dag.spec import Binding, BindingList, BindingMap, Constant, Node, OutputRef
from engine.dag.trace import TaskLike
from engine.types.type_engine import TypeEngine, container_item_type

# Where the value a binding reads lives: its ObjectRef (RunState.ref).
RefOf = Callable[[OutputRef], ray.ObjectRef]


def bind(bindings: Iterable[tuple[str, Binding]], types: Mapping[str, Any],
         ref_of: RefOf) -> tuple[dict[str, Any], list[ray.ObjectRef]]:
    """The template of ``bindings`` (name -> value, ``types`` giving each name's Python
    type) and the ObjectRefs its Slots index."""
    refs: list[ray.ObjectRef] = []
    return {name: _template(b, types[name], refs, ref_of) for name, b in bindings}, refs


def _template(binding: Binding, py_type: Any, refs: list[ray.ObjectRef], ref_of: RefOf) -> Any:
    """The value of a binding, ObjectRefs moved into ``refs`` and left as Slots."""
    if isinstance(binding, OutputRef):
        refs.append(ref_of(binding))
        return Slot(len(refs) - 1, binding.path)
    if isinstance(binding, Constant):
        return TypeEngine.from_json(binding.value, py_type)
    if isinstance(binding, BindingList):
        item = container_item_type(py_type, list)
        return [_template(b, item, refs, ref_of) for b in binding.items]
    assert isinstance(binding, BindingMap)
    item = container_item_type(py_type, dict)
    return {k: _template(b, item, refs, ref_of) for k, b in binding.items}


def _compact(template: dict[str, Any]) -> list[str] | dict[str, Any]:
    """The input names alone when each input is the next ObjectRef, as most are."""
    if all(isinstance(t, Slot) and t.index == i and not t.path
           for i, t in enumerate(template.values())):
        return list(template)
    return template


def _split(task: TaskLike, returned: Any) -> tuple[ray.ObjectRef, dict[str, ray.ObjectRef]]:
    """The status and the output ObjectRefs of a call: a node's Ray call returns its
    outputs, then its status (alone when there are no outputs)."""
    names = list(task.python_interface.outputs)
    if not names:
        return returned, {}
    *outs, status = returned
    return status, dict(zip(names, outs, strict=True))


class NodeCalls:
    """Starts the attempts of one execution's nodes on Ray.

    What every attempt of a unit (see :class:`RunGraph`) shares is published once, at the
    unit's first attempt, in Ray's key-value store (see
    :func:`engine.dag.run.worker.unit_from`); each attempt then sends only small plain
    values. The record must have started by then: its name and start are the execution's
    parameters. :meth:`close` withdraws what was published once the execution has ended.
    """

    def __init__(self, graph: RunGraph, services: NodeServices,
                 record: ExecutionRecord) -> None:
        self.graph = graph
        self.services = services
        self.record = record
        # Per unit, from its first attempt: the execution's parameters for its task, the
        # key its NodeUnit is published under, its Ray remote with its resources.
        self._params: dict[str, ExecutionParameters] = {}
        self._keys: dict[str, str] = {}
        self._remotes: dict[str, Any] = {}
        for node in graph.spec.nodes:  # an unusable ImageSpec fails the run before it starts
            if node.branch is None and node.gate is None:
                runtime_env(graph.metadata(node.id).image_spec, f"node '{node.id}'")

    def start(self, node_id: str, attempt: int, template: dict[str, Any],
              refs: list[ray.ObjectRef]) -> tuple[ray.ObjectRef, dict[str, ray.ObjectRef]]:
        """Start attempt ``attempt`` (1 for the first) of ``node_id`` with ``template``
        filled from ``refs``; the ObjectRefs of its status and of each output."""
        task = self.graph.task(node_id)
        unit = self.graph.unit(node_id)
        mock = local_nodes.stand_in(self.graph.compiled.tasks[self.graph.nodes[node_id].task])
        if mock is None:
            return _split(task, self._call(unit, node_id, attempt, template, refs))
        # engine.testing's stand-in runs here, in the process whose test set it.
        params = dataclasses.replace(self._unit_params(unit), node_id=node_id,
                                     attempt_number=attempt - 1)
        return _split(task, local_nodes.submit(task, mock, template, params, self.services,
                                               refs))

    def start_handler(self, node: Node, template: dict[str, Any],
                      refs: list[ray.ObjectRef]) -> ray.ObjectRef:
        """Start the workflow's on_failure handler ``node`` (always on Ray, as its task's
        unit); the ObjectRef of its status."""
        returned = self._call(node.task, node.id, 1, template, refs)
        status, _ = _split(self.graph.unit_task(node.task), returned)
        return status

    def close(self) -> None:
        """Withdraw the units this execution published: its attempts have all ended."""
        if self._keys:
            internal_kv._internal_kv_del(self._prefix, del_by_prefix=True,
                                         namespace=UNITS_NAMESPACE)
            self._keys.clear()

    def _call(self, unit: str, node_id: str, attempt: int, template: dict[str, Any],
              refs: list[ray.ObjectRef]) -> Any:
        call = [self._publish(unit), _compact(template), node_id, attempt - 1]
        return self._remote(unit).remote(call, *refs)

    def _unit_params(self, unit: str) -> ExecutionParameters:
        params = self._params.get(unit)
        if params is None:
            params = ExecutionParameters(
                execution_id=self.record.name,
                execution_date=dt.datetime.fromtimestamp(self.record.started_at,
                                                         dt.timezone.utc),
                task_name=self.graph.task_name(unit),
                secret_requests=self.graph.unit_task(unit).spec().metadata.secrets,
            )
            self._params[unit] = params
        return params

    @property
    def _prefix(self) -> str:
        """What the keys of this execution's units start with; they never look like the
        keys of a map task's batches ("<execution>/<task>"), which workers cache alike."""
        return f"{self.record.name}/unit/"

    def _publish(self, unit: str) -> str:
        """The key of ``unit``'s NodeUnit, published at its first attempt."""
        key = self._keys.get(unit)
        if key is None:
            value = NodeUnit(self.graph.unit_task(unit), self.services, self._unit_params(unit))
            key = self._prefix + unit
            internal_kv._internal_kv_put(key, cloudpickle.dumps(value),
                                         namespace=UNITS_NAMESPACE)
            self._keys[unit] = key
        return key

    def _remote(self, unit: str) -> Any:
        """The Ray remote of ``unit``, with its resources."""
        remote = self._remotes.get(unit)
        if remote is None:
            task = self.graph.unit_task(unit)
            overrides = self.graph.nodes[unit].overrides if unit in self.graph.overridden \
                else None
            metadata = task.spec().metadata
            req = ray_request(metadata)
            options: dict[str, Any] = {
                "num_cpus": req.num_cpus,
                "num_gpus": req.num_gpus,
                "num_returns": len(task.python_interface.outputs) + 1,
                "name": (overrides.name if overrides and overrides.name else task.name),
            }
            if req.memory:
                options["memory"] = req.memory
            env = runtime_env(metadata.image_spec, f"task '{task.name}'")
            if env is not None:
                options["runtime_env"] = env
            remote = self._remotes[unit] = ray_execute_node.options(**options)
        return remote
