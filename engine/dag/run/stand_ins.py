"""Which tasks have a stand-in in this process (engine.testing's mocks), and a direct
call of such a task.

While a task has a *stand-in* (a callable taking the task's inputs by name and
returning what the task would return), every call of it made by this process runs the
stand-in instead: a direct call (``PythonFunctionTask.__call__`` calls :func:`call`) and
a node of any workflow this process drives (:mod:`engine.dag.run.local_nodes`). This
module imports no Ray: ``@task`` consults it on every call, and defining tasks must stay
cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from engine.dag.trace import TaskLike
from engine.errors import InterfaceError
from engine.types.interface import bind_inputs
from engine.types.type_engine import TypeEngine

StandIn = Callable[..., Any]

# Task object -> its stand-in. Process-wide, not a ContextVar: a workflow run in another
# thread of the test (a thread pool, asyncio.to_thread) must see the same mocks.
_STAND_INS: dict[object, StandIn] = {}


def stand_in(task: object) -> StandIn | None:
    """The stand-in of ``task`` in this process, if it has one."""
    return _STAND_INS.get(task)


@contextmanager
def standing_in(task: TaskLike, fn: StandIn) -> Iterator[None]:
    """Within the block, calls of ``task`` from this process run ``fn`` instead; an outer
    stand-in of the same task comes back afterwards."""
    previous = _STAND_INS.get(task)
    _STAND_INS[task] = fn
    try:
        yield
    finally:
        if previous is None:
            _STAND_INS.pop(task, None)
        else:
            _STAND_INS[task] = previous


def call(task: TaskLike, fn: StandIn, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A direct call of ``task`` answered by its stand-in; returns what the call returns."""
    inputs = bind_inputs(f"task '{task.name}'", task.python_interface, args, kwargs)
    return task.python_interface.pack_outputs(checked_outputs(task, fn, inputs))


def checked_outputs(task: TaskLike, fn: StandIn, inputs: dict[str, Any]) -> list[Any]:
    """Call the stand-in; its outputs in order, each checked against its declared type."""
    what = f"the mock of task '{task.name}'"
    iface = task.python_interface
    values = iface.unpack_outputs(fn(**inputs), what)
    for (name, t), value in zip(iface.outputs.items(), values, strict=True):
        reason = TypeEngine.check(value, t)
        if reason:
            raise InterfaceError(
                f"{what} returned a bad value for output '{name}': {reason}; set the mock's "
                "return_value (or side_effect) to what the task returns"
            )
    return values
