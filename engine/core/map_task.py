"""``map_task``: run a task over lists of inputs, elements in parallel, as flytekit's."""

from __future__ import annotations

import functools
import hashlib
import json
import typing
from typing import Any

from engine.config import chosen_namespace, current_namespace
from engine.core.task import PythonFunctionTask
from engine.dag.compiler import add_task_node
from engine.dag.promise import Promise
from engine.dag.spec import Identifier, ResourceSpec, ResourceType, TaskMetadata, TaskSpec
from engine.dag.trace import is_compiling
from engine.errors import ConfigError, DataError
from engine.types.interface import PythonInterface, bind_inputs, to_spec_interface
from engine.types.type_engine import TypeEngine


class MapTask:
    """A task mapped over lists: ``map_task(t)(x=[1, 2, 3])`` runs ``t`` once per element.

    Inputs bound with ``functools.partial`` stay fixed; the others become lists of
    equal length. Outputs are lists; with ``min_success_ratio < 1`` failed elements
    give None, so each output is ``list[Optional[T]]``.
    """

    _flyray_entity = True

    def __init__(self, target: Any, concurrency: int | None = None,
                 min_success_ratio: float = 1.0) -> None:
        fixed: dict[str, Any] = {}
        if isinstance(target, functools.partial):
            if target.args:
                raise ConfigError("map_task over functools.partial: bind inputs by name "
                                  "(partial(t, k=v)), not by position")
            fixed, target = dict(target.keywords), target.func
        if not isinstance(target, PythonFunctionTask):
            raise ConfigError(f"map_task takes a @task (or a partial of one), got {target!r}")
        if not 0 < min_success_ratio <= 1:
            raise ConfigError(f"map_task: min_success_ratio must be in (0, 1], "
                              f"got {min_success_ratio}")
        if concurrency is not None and concurrency < 1:
            raise ConfigError(f"map_task: concurrency must be at least 1, got {concurrency}")
        inner = target.python_interface
        what = f"map_task over task '{target.name}'"
        # Partial inputs bound to promises (workflow inputs, task outputs) are inputs of
        # the map node, the same for every element; constants are part of the map task.
        self.broadcast = {n: v for n, v in fixed.items() if isinstance(v, Promise)}
        fixed = {n: v for n, v in fixed.items() if n not in self.broadcast}
        for name in [*fixed, *self.broadcast]:
            if name not in inner.inputs:
                raise ConfigError(f"{what}: partial binds unknown input '{name}'; the task "
                                  f"takes {', '.join(inner.inputs)}")
        for name, value in fixed.items():
            reason = TypeEngine.check(value, inner.inputs[name])
            if reason:
                raise ConfigError(f"{what}: fixed input '{name}': {reason}")
        self.task = target
        self.fixed = fixed
        self.concurrency = concurrency
        self.min_success_ratio = min_success_ratio
        optional = min_success_ratio < 1
        # Inputs with a default may be mapped too; left out, every element gets the default.
        self.defaults = {n: v for n, v in inner.defaults.items()
                         if n not in fixed and n not in self.broadcast}
        mapped = {n: t for n, t in inner.inputs.items()
                  if n not in fixed and n not in self.broadcast}
        self.python_interface = PythonInterface(
            inputs={**{n: typing.Optional[_list_of(t)] if n in self.defaults  # noqa: UP045
                       else _list_of(t) for n, t in mapped.items()},
                    **{n: inner.inputs[n] for n in self.broadcast}},
            defaults=dict.fromkeys(self.defaults),
            outputs={n: _list_of(typing.Optional[t] if optional else t)  # noqa: UP045
                     for n, t in inner.outputs.items()},
            output_tuple=inner.output_tuple,
        )
        suffix = []
        if fixed:
            data = {n: TypeEngine.to_json(v, inner.inputs[n]) for n, v in fixed.items()}
            suffix.append(hashlib.sha256(json.dumps(data, sort_keys=True).encode())
                          .hexdigest()[:8])
        if self.broadcast:
            suffix.append("b" + "_".join(sorted(self.broadcast)))
        if concurrency:
            suffix.append(f"c{concurrency}")
        if optional:
            suffix.append(f"r{min_success_ratio:g}")
        self.name = f"{target.name}.map" + "".join(f"-{s}" for s in suffix)
        # By namespace() block (None: the settings' project and domain).
        self._specs: dict[tuple[str, str] | None, TaskSpec] = {}

    def __repr__(self) -> str:
        return f"<map_task {self.name}>"

    def __getstate__(self) -> dict[str, Any]:
        # Promises only matter while the workflow is traced; workers need the names.
        state = dict(self.__dict__)
        state["broadcast"] = dict.fromkeys(self.broadcast)
        return state

    def spec(self) -> TaskSpec:
        """The map node's spec: it coordinates and asks for no CPU; elements run with the
        mapped task's resources, retries and cache."""
        chosen = chosen_namespace()
        spec = self._specs.get(chosen)
        if spec is None:
            project, domain = chosen or current_namespace()
            inner = self.task.spec()
            iface = to_spec_interface(self.python_interface, f"map_task '{self.name}'")
            metadata = TaskMetadata(requests=ResourceSpec(cpu=0.0),
                                    container_image=inner.metadata.container_image)
            version = hashlib.sha256(
                (inner.id.version + self.name + repr(iface.to_dict())).encode()
            ).hexdigest()[:16]
            spec = TaskSpec(
                Identifier(ResourceType.TASK, project, domain, self.name,
                           version),
                iface, metadata, inner.module, inner.attribute,
            )
            self._specs[chosen] = spec
        return spec

    def run_function(self, inputs: dict[str, Any]) -> list[Any]:
        """Run every element; returns one list per output of the mapped task."""
        fixed = {**self.fixed,
                 **{n: v for n, v in inputs.items() if n in self.broadcast},
                 **{n: self.defaults[n] for n, v in inputs.items()
                    if v is None and n in self.defaults}}
        inputs = {n: v for n, v in inputs.items() if n not in fixed}
        lengths = {name: len(values) for name, values in inputs.items()}
        if len(set(lengths.values())) > 1:
            raise DataError(f"map_task '{self.name}': mapped inputs differ in length "
                            f"{lengths}; give lists of one length")
        count = next(iter(lengths.values()), 0)
        elements = [{**fixed, **{name: values[i] for name, values in inputs.items()}}
                    for i in range(count)]
        # The map runner (Ray) is loaded where the map runs, not by declaring a map task.
        from engine.dag.run.map_runner import run_map

        results = run_map(self.task, elements, self.concurrency, self.min_success_ratio,
                          f"map_task '{self.name}'")
        names = list(self.python_interface.outputs)
        return [[r[j] if r is not None else None for r in results] for j in range(len(names))]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if is_compiling():
            return add_task_node(self, args, {**kwargs, **self.broadcast})
        bound = bind_inputs(f"map_task '{self.name}'", self.python_interface, args, kwargs)
        return self.python_interface.pack_outputs(self.run_function(bound))


def _list_of(python_type: Any) -> Any:
    return list[python_type]  # type: ignore[valid-type]


def map_task(target: Any, concurrency: int | None = None,
             min_success_ratio: float = 1.0, **_: Any) -> MapTask:
    """Map ``target`` (a task, or a ``functools.partial`` of one fixing some inputs) over
    lists. ``concurrency`` caps elements running at once; ``min_success_ratio`` below 1
    lets that share of elements fail (their outputs are None)."""
    return MapTask(target, concurrency, min_success_ratio)
