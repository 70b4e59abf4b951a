"""``FlyteContext`` and ``FlyteContextManager``, as flytekit's
``flytekit.core.context_manager``: what user code reaches through
``FlyteContextManager.current_context()``.

- ``file_access``: a :class:`FileAccessProvider` to put data to and get data from the
  blob store;
- ``execution_state``: an :class:`ExecutionState`, whose ``mode`` is
  ``TASK_EXECUTION`` inside a node attempt (every Flyray node runs as a task execution
  in a Ray worker, local run or remote) and None elsewhere, as at flytekit's top level;
- ``user_space_params``: the ``ExecutionParameters`` that ``current_context()`` returns.

Inside a node attempt these refer to the attempt's services (its blob store, its
raw-output prefix, its scratch directory); outside, to this process's settings. A
context given with :meth:`FlyteContextManager.with_context` wins within its block.
"""

from __future__ import annotations

import contextvars
import enum
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from engine.catalog.blob import BlobStore, StorageConfig
from engine.config import load_settings
from engine.dag.run.context import ExecutionParameters, current_context, current_node
from engine.dag.run.worker import attempt_prefix
from engine.types.file_access import FileAccessProvider
from engine.types.type_engine import DataContext

__all__ = ["ExecutionState", "FlyteContext", "FlyteContextManager"]


@dataclass(frozen=True)
class ExecutionState:
    """Where user code runs, as flytekit's ``ExecutionState``."""

    class Mode(enum.Enum):
        TASK_EXECUTION = 1
        LOCAL_WORKFLOW_EXECUTION = 2
        LOCAL_TASK_EXECUTION = 3
        DYNAMIC_TASK_EXECUTION = 4
        EAGER_EXECUTION = 5
        EAGER_LOCAL_EXECUTION = 6

    mode: ExecutionState.Mode | None = None
    # The attempt's scratch directory inside a node attempt; the sandbox elsewhere.
    working_dir: str | None = None
    user_space_params: ExecutionParameters | None = None

    def is_local_execution(self) -> bool:
        return self.mode in (ExecutionState.Mode.LOCAL_WORKFLOW_EXECUTION,
                             ExecutionState.Mode.LOCAL_TASK_EXECUTION,
                             ExecutionState.Mode.EAGER_LOCAL_EXECUTION)


@dataclass(frozen=True)
class FlyteContext:
    """What user code reaches through the context (see the module docstring)."""

    file_access: FileAccessProvider
    execution_state: ExecutionState

    @property
    def user_space_params(self) -> ExecutionParameters:
        return self.execution_state.user_space_params or current_context()

    @staticmethod
    def current_context() -> FlyteContext:
        return FlyteContextManager.current_context()

    def new_builder(self) -> FlyteContext.Builder:
        return FlyteContext.Builder(self)

    def with_file_access(self, file_access: FileAccessProvider) -> FlyteContext.Builder:
        return self.new_builder().with_file_access(file_access)

    def with_execution_state(self, state: ExecutionState) -> FlyteContext.Builder:
        return self.new_builder().with_execution_state(state)

    class Builder:
        """A context being changed, as flytekit's: ``ctx.with_file_access(p).build()``."""

        def __init__(self, base: FlyteContext) -> None:
            self._context = base

        def with_file_access(self, file_access: FileAccessProvider) -> FlyteContext.Builder:
            self._context = replace(self._context, file_access=file_access)
            return self

        def with_execution_state(self, state: ExecutionState) -> FlyteContext.Builder:
            self._context = replace(self._context, execution_state=state)
            return self

        def build(self) -> FlyteContext:
            return self._context


# Contexts given with FlyteContextManager.with_context, innermost last.
_GIVEN: contextvars.ContextVar[tuple[FlyteContext, ...]] = \
    contextvars.ContextVar("flyray_flyte_context", default=())


class FlyteContextManager:
    """Where the current :class:`FlyteContext` comes from, as flytekit's."""

    @staticmethod
    def current_context() -> FlyteContext:
        """The innermost context given with :meth:`with_context`, else the one of the
        node attempt running here, else this process's."""
        given = _GIVEN.get()
        return given[-1] if given else _ambient()

    @staticmethod
    @contextmanager
    def with_context(context: FlyteContext | FlyteContext.Builder) -> Iterator[FlyteContext]:
        """Within the block, ``current_context()`` is ``context`` (a builder is built)."""
        ctx = context.build() if isinstance(context, FlyteContext.Builder) else context
        token = _GIVEN.set((*_GIVEN.get(), ctx))
        try:
            yield ctx
        finally:
            _GIVEN.reset(token)

    @staticmethod
    def push_context(context: FlyteContext) -> FlyteContext:
        _GIVEN.set((*_GIVEN.get(), context))
        return context

    @staticmethod
    def pop_context() -> FlyteContext:
        given = _GIVEN.get()
        if not given:
            raise RuntimeError("FlyteContextManager.pop_context(): no context was pushed "
                               "with push_context()")
        _GIVEN.set(given[:-1])
        return given[-1]


def _ambient() -> FlyteContext:
    """The context of the node attempt running in this thread, or of this process."""
    node = current_node()
    params = current_context()
    if node is not None:
        services = node[1]
        scratch = params.scratch_path  # removed when the attempt ends
        data = DataContext(BlobStore(services.storage), attempt_prefix(services, params),
                           scratch / "sandbox")
        state = ExecutionState(ExecutionState.Mode.TASK_EXECUTION, str(scratch), params)
        return FlyteContext(FileAccessProvider(data), state)
    store = BlobStore(StorageConfig.from_settings(load_settings()))
    sandbox = Path(tempfile.gettempdir()) / "flyray" / "local" / f"sandbox-{os.getpid()}"
    data = DataContext(store, store.uri("raw", "local"), sandbox)
    return FlyteContext(FileAccessProvider(data), ExecutionState(None, str(sandbox), params))
