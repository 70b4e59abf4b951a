"""``Workflow("name")``: a workflow built by calls instead of a decorated function.

    wb = Workflow(name="my_workflow")
    wb.add_workflow_input("in1", str)
    node = wb.add_entity(t1, a=wb.inputs["in1"])
    wb.add_workflow_output("out", node.outputs["o0"])
    wb(in1="hello")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.config import chosen_namespace, current_namespace
from engine.dag.compiler import CompiledWorkflow, add_subworkflow_node, compile_workflow
from engine.dag.trace import is_compiling
from engine.errors import CompileError
from engine.types.interface import PythonInterface, bind_inputs, default_named_tuple


@dataclass(frozen=True)
class _Ref:
    """A placeholder for a workflow input (node None) or a node's output."""

    node: int | None
    name: str


class ImperativeNode:
    """What ``add_entity`` returns: its outputs by name (``node.outputs["o0"]``)."""

    def __init__(self, index: int, entity: Any) -> None:
        self.index = index
        self.entity = entity
        self.outputs = {name: _Ref(index, name) for name in entity.python_interface.outputs}


class Workflow:
    """A workflow assembled step by step, as flytekit's imperative ``Workflow``."""

    _flyray_entity = True

    def __init__(self, name: str) -> None:
        self.name = name
        self._inputs: dict[str, Any] = {}
        self._calls: list[tuple[Any, dict[str, Any]]] = []
        self._outputs: dict[str, tuple[_Ref, Any]] = {}
        # By namespace() block (None: the settings' project and domain); emptied by
        # every change to the workflow.
        self._compiled: dict[tuple[str, str] | None, CompiledWorkflow] = {}

    @property
    def inputs(self) -> dict[str, _Ref]:
        return {name: _Ref(None, name) for name in self._inputs}

    def add_workflow_input(self, name: str, python_type: Any) -> _Ref:
        self._inputs[name] = python_type
        self._compiled.clear()
        return _Ref(None, name)

    def add_entity(self, entity: Any, **kwargs: Any) -> ImperativeNode:
        """Call ``entity`` (a task, workflow or launch plan) with inputs or node outputs."""
        node = ImperativeNode(len(self._calls), entity)
        self._calls.append((entity, kwargs))
        self._compiled.clear()
        return node

    def add_workflow_output(self, name: str, ref: _Ref, python_type: Any = None) -> None:
        if not isinstance(ref, _Ref):
            raise CompileError(f"workflow '{self.name}': output '{name}' must be a workflow "
                               "input or a node output (node.outputs['o0'])")
        if python_type is None:
            python_type = (self._inputs[ref.name] if ref.node is None else
                           self._calls[ref.node][0].python_interface.outputs[ref.name])
        self._outputs[name] = (ref, python_type)
        self._compiled.clear()

    @property
    def python_interface(self) -> PythonInterface:
        names = list(self._outputs)
        return PythonInterface(
            dict(self._inputs), {}, {n: t for n, (_, t) in self._outputs.items()},
            default_named_tuple(names) if len(names) > 1 else None,
        )

    def _body(self, **inputs: Any) -> Any:
        results: list[Any] = []

        def resolve(value: Any) -> Any:
            if not isinstance(value, _Ref):
                return value
            if value.node is None:
                return inputs[value.name]
            out = results[value.node]
            names = list(self._calls[value.node][0].python_interface.outputs)
            return out if len(names) == 1 else getattr(out, value.name)

        for entity, kwargs in self._calls:
            results.append(entity(**{k: resolve(v) for k, v in kwargs.items()}))
        values = [resolve(ref) for ref, _ in self._outputs.values()]
        return values[0] if len(values) == 1 else tuple(values) if values else None

    def compile(self) -> CompiledWorkflow:
        chosen = chosen_namespace()
        compiled = self._compiled.get(chosen)
        if compiled is None:
            project, domain = chosen or current_namespace()
            compiled = compile_workflow(self.name, self._body, self.python_interface,
                                        project, domain)
            self._compiled[chosen] = compiled
        return compiled

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if is_compiling():
            return add_subworkflow_node(self.compile(), args, kwargs)
        inputs = bind_inputs(f"workflow '{self.name}'", self.python_interface, args, kwargs)
        # The executor (Ray) is loaded by the first run, not by building a workflow.
        from engine.dag.run.executor import run

        return run(self.compile(), inputs).outputs
