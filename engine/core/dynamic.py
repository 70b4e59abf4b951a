"""``@dynamic``: a task whose body builds a workflow at run time from real input values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.config import current_namespace, load_settings
from engine.core.task import PythonFunctionTask
from engine.dag.compiler import compile_dynamic
from engine.dag.resources import Resources


class DynamicTask(PythonFunctionTask):
    """Called in a workflow it is one node; when that node runs, its body runs with the
    real input values (loops and ``if`` on them are plain Python), each task it calls
    becomes a node of a sub-DAG, and the engine runs that sub-DAG in parallel on Ray.

    The node itself only coordinates: unless given requests, it holds no CPU, so that
    its sub-DAG's nodes can use the cluster.
    """

    def run_function(self, inputs: dict[str, Any]) -> list[Any]:
        # The executor (Ray) is loaded where the dynamic node runs, not by declaring one.
        from engine.dag.run.child_run import run_child

        project, domain = current_namespace()
        compiled, values = compile_dynamic(self.name, self.fn, inputs, self.python_interface,
                                           project, domain)
        result = run_child(compiled, values, load_settings())
        return self.python_interface.unpack_outputs(result.outputs, f"dynamic '{self.name}'")


def dynamic(_task_function: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
    """Declare a dynamic task, with or without arguments (the same as ``@task``'s)."""
    kwargs.setdefault("requests", Resources(cpu=0))

    def wrap(fn: Callable[..., Any]) -> DynamicTask:
        return DynamicTask(fn, **kwargs)

    return wrap(_task_function) if _task_function is not None else wrap
