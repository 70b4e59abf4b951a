"""``@eager``: an async body that awaits tasks, each running on Ray as it is awaited."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from engine.config import load_settings
from engine.core.task import PythonFunctionTask
from engine.dag.resources import Resources
from engine.dag.run.context import EAGER_SUBMIT, current_node
from engine.errors import FlyrayError
from engine.exceptions.eager import EagerException


class EagerTask(PythonFunctionTask):
    """A task whose ``async`` body awaits other tasks with real values.

    Each awaited task runs on Ray as a one-node execution (with its resources,
    retries and cache); ``asyncio.gather`` runs several at once. A failed task
    raises :class:`EagerException` at its ``await``, which the body may catch.
    """

    def run_function(self, inputs: dict[str, Any]) -> list[Any]:
        # The executor (Ray) is loaded where the eager node runs, not by declaring one.
        from engine.dag.run.executor import run

        settings = load_settings()
        node = current_node()
        services = node[1] if node is not None else None

        async def submit_async(task: PythonFunctionTask, args: tuple[Any, ...],
                               kwargs: dict[str, Any]) -> Any:
            try:
                bound = task.bind_inputs(args, kwargs)
                result = await asyncio.to_thread(
                    run, task.compile_as_workflow(), bound, (), settings, False, services)
            except FlyrayError as e:
                raise EagerException(f"task '{task.name}' failed in eager workflow "
                                     f"'{self.name}': {e}") from None
            return result.outputs

        def submit(task: PythonFunctionTask, args: tuple[Any, ...],
                   kwargs: dict[str, Any]) -> Any:
            return submit_async(task, args, kwargs)

        token = EAGER_SUBMIT.set(submit)
        try:
            returned = asyncio.run(self.fn(**inputs))
        finally:
            EAGER_SUBMIT.reset(token)
        return self.python_interface.unpack_outputs(returned, f"eager '{self.name}'")


def eager(_fn: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
    """Declare an eager workflow: an ``async def`` awaiting tasks (``@task`` options apply)."""
    kwargs.setdefault("requests", Resources(cpu=0))

    def wrap(fn: Callable[..., Any]) -> EagerTask:
        return EagerTask(fn, **kwargs)

    return wrap(_fn) if _fn is not None else wrap
